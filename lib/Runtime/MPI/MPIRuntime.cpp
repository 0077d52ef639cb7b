//===- MPIRuntime.cpp - The collectives compiled CPU code calls -----------===//
//
// Rows travel as one MPI datatype each (a contiguous run of bytes), so
// counts and displacements are in rows and a large exchange overflows MPI's
// int counts only past 2^31 rows.
//
//===----------------------------------------------------------------------===//

#include "moe/Runtime/MPIRuntime.h"

#include <mpi.h>

#include <cstdio>
#include <cstdlib>
#include <limits>
#include <string>
#include <vector>

namespace {

MoeMpiErrorHandler errorHandler = nullptr;

/// The message of the failing call. Failures are reported from the entry
/// points once every local of the call is destroyed: the handler does not
/// return (the execution library unwinds with longjmp), so nothing with a
/// destructor may be live when it runs.
thread_local std::string failure;

[[noreturn]] void reportFailure() {
  if (errorHandler)
    errorHandler(failure.c_str());
  // No handler, or one that returned: compiled code cannot go on, and the
  // other ranks would wait for this one forever.
  std::fprintf(stderr, "moe MPI runtime: %s\n", failure.c_str());
  MPI_Abort(MPI_COMM_WORLD, 1);
  std::abort();
}

/// Empty on success, else why `call` failed.
std::string check(int result, const char *call) {
  if (result == MPI_SUCCESS)
    return {};
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  if (MPI_Error_string(result, text, &length) != MPI_SUCCESS)
    length = std::snprintf(text, sizeof(text), "error %d", result);
  return std::string(call) + " failed: " + std::string(text, length);
}

/// A contiguous buffer of rows, read from the ranked descriptor an unranked
/// memref points to.
struct Buffer {
  char *data = nullptr;
  int64_t rows = 0;
  int64_t rowElements = 1;
};

std::string readDescriptor(int64_t rank, void *descriptor,
                           size_t elementBytes, const char *role,
                           Buffer &buffer) {
  if (rank < 1)
    return std::string(role) + " has rank 0; moe.all_to_all exchanges rows";
  // allocated, aligned, offset, sizes[rank], strides[rank]
  auto *words = static_cast<int64_t *>(descriptor);
  const int64_t *sizes = words + 3;
  const int64_t *strides = sizes + rank;
  int64_t expectedStride = 1;
  for (int64_t dim = rank - 1; dim >= 0; --dim) {
    if (sizes[dim] > 1 && strides[dim] != expectedStride)
      return std::string(role) + " is not contiguous";
    expectedStride *= sizes[dim];
  }
  buffer.data = reinterpret_cast<char *>(words[1]) +
                words[2] * static_cast<int64_t>(elementBytes);
  buffer.rows = sizes[0];
  for (int64_t dim = 1; dim < rank; ++dim)
    buffer.rowElements *= sizes[dim];
  return {};
}

/// Empty when the job has the `numRanks` processes the model was compiled
/// for.
std::string checkJobSize(int64_t numRanks) {
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (!initialized)
    return "moe.all_to_all called before MPI was initialized (the execution "
           "library initializes it)";
  int size = 0;
  if (std::string error = check(MPI_Comm_size(MPI_COMM_WORLD, &size),
                                "MPI_Comm_size");
      !error.empty())
    return error;
  if (size != numRanks)
    return "moe.all_to_all was compiled for " + std::to_string(numRanks) +
           " ranks, but the MPI job has " + std::to_string(size) +
           " (start it with mpiexec -n " + std::to_string(numRanks) + ")";
  return {};
}

/// Counts as MPI ints, with the displacements of their blocks.
std::string toRowCounts(const int64_t *counts, int64_t numRanks, int64_t rows,
                        const char *role, std::vector<int> &ints,
                        std::vector<int> &displacements) {
  int64_t total = 0;
  for (int64_t r = 0; r < numRanks; ++r) {
    if (counts[r] < 0)
      return std::string(role) + " count for rank " + std::to_string(r) +
             " is negative (" + std::to_string(counts[r]) + ")";
    if (total > std::numeric_limits<int>::max() ||
        counts[r] > std::numeric_limits<int>::max())
      return std::string(role) + " exchange of more than 2^31 rows";
    displacements.push_back(static_cast<int>(total));
    ints.push_back(static_cast<int>(counts[r]));
    total += counts[r];
  }
  if (total != rows)
    return std::string(role) + " counts add up to " + std::to_string(total) +
           " rows, but the buffer has " + std::to_string(rows);
  return {};
}

std::string exchangeCounts(int64_t numRanks, int64_t sendCountsRank,
                           void *sendCounts, int64_t recvCountsRank,
                           void *recvCounts) {
  if (std::string error = checkJobSize(numRanks); !error.empty())
    return error;
  Buffer send, receive;
  if (std::string error = readDescriptor(sendCountsRank, sendCounts,
                                         sizeof(int64_t), "the send counts",
                                         send);
      !error.empty())
    return error;
  if (std::string error =
          readDescriptor(recvCountsRank, recvCounts, sizeof(int64_t),
                         "the receive counts", receive);
      !error.empty())
    return error;
  if (send.rows != numRanks || receive.rows != numRanks)
    return "expected one count per rank";
  return check(MPI_Alltoall(send.data, 1, MPI_INT64_T, receive.data, 1,
                            MPI_INT64_T, MPI_COMM_WORLD),
               "MPI_Alltoall");
}

std::string allToAll(int64_t numRanks, int64_t inputRank, void *input,
                     int64_t sendCountsRank, void *sendCounts,
                     int64_t outputRank, void *output, int64_t recvCountsRank,
                     void *recvCounts, size_t elementBytes) {
  if (std::string error = checkJobSize(numRanks); !error.empty())
    return error;
  Buffer send, receive, sendCountsBuffer, recvCountsBuffer;
  std::string error =
      readDescriptor(inputRank, input, elementBytes, "the input", send);
  if (error.empty())
    error = readDescriptor(outputRank, output, elementBytes, "the output",
                           receive);
  if (error.empty())
    error = readDescriptor(sendCountsRank, sendCounts, sizeof(int64_t),
                           "the send counts", sendCountsBuffer);
  if (error.empty())
    error = readDescriptor(recvCountsRank, recvCounts, sizeof(int64_t),
                           "the receive counts", recvCountsBuffer);
  if (!error.empty())
    return error;
  if (send.rowElements != receive.rowElements)
    return "input rows hold " + std::to_string(send.rowElements) +
           " elements, output rows " + std::to_string(receive.rowElements);
  if (sendCountsBuffer.rows != numRanks || recvCountsBuffer.rows != numRanks)
    return "expected one count per rank";

  std::vector<int> sendInts, sendDisplacements, recvInts, recvDisplacements;
  error = toRowCounts(reinterpret_cast<const int64_t *>(sendCountsBuffer.data),
                      numRanks, send.rows, "send", sendInts,
                      sendDisplacements);
  if (error.empty())
    error = toRowCounts(
        reinterpret_cast<const int64_t *>(recvCountsBuffer.data), numRanks,
        receive.rows, "receive", recvInts, recvDisplacements);
  if (!error.empty())
    return error;

  int64_t rowBytes = send.rowElements * static_cast<int64_t>(elementBytes);
  if (rowBytes == 0)
    return {};
  if (rowBytes > std::numeric_limits<int>::max())
    return "rows of " + std::to_string(rowBytes) + " bytes are too large";
  MPI_Datatype row;
  error = check(MPI_Type_contiguous(static_cast<int>(rowBytes), MPI_BYTE, &row),
                "MPI_Type_contiguous");
  if (!error.empty())
    return error;
  error = check(MPI_Type_commit(&row), "MPI_Type_commit");
  if (error.empty())
    error = check(MPI_Alltoallv(send.data, sendInts.data(),
                                sendDisplacements.data(), row, receive.data,
                                recvInts.data(), recvDisplacements.data(), row,
                                MPI_COMM_WORLD),
                  "MPI_Alltoallv");
  MPI_Type_free(&row);
  return error;
}

void finalizeAtExit() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized)
    MPI_Finalize();
}

} // namespace

extern "C" int moeMpiInitialize(int *rank, int *size, char *message,
                                size_t messageSize) {
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (!initialized) {
    int provided = 0;
    if (MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided) !=
        MPI_SUCCESS) {
      std::snprintf(message, messageSize, "MPI_Init_thread failed");
      return -1;
    }
    std::atexit(finalizeAtExit);
  }
  // Failures come back as codes, reported through the error handler,
  // instead of MPI aborting the job.
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  if (MPI_Comm_rank(MPI_COMM_WORLD, rank) != MPI_SUCCESS ||
      MPI_Comm_size(MPI_COMM_WORLD, size) != MPI_SUCCESS) {
    std::snprintf(message, messageSize, "cannot query MPI_COMM_WORLD");
    return -1;
  }
  return 0;
}

extern "C" void moeMpiAbort(int errorCode) {
  std::fflush(nullptr);
  std::_Exit(errorCode);
}

extern "C" void moeMpiSetErrorHandler(MoeMpiErrorHandler handler) {
  errorHandler = handler;
}

extern "C" void moe_mpi_exchange_counts(int64_t numRanks,
                                        int64_t sendCountsRank,
                                        void *sendCounts,
                                        int64_t recvCountsRank,
                                        void *recvCounts) {
  failure = exchangeCounts(numRanks, sendCountsRank, sendCounts,
                           recvCountsRank, recvCounts);
  if (!failure.empty())
    reportFailure();
}

#define MOE_MPI_DEFINE_ALL_TO_ALL(type, bytes)                                 \
  extern "C" void moe_mpi_all_to_all_##type(                                   \
      int64_t numRanks, int64_t inputRank, void *input,                        \
      int64_t sendCountsRank, void *sendCounts, int64_t outputRank,            \
      void *output, int64_t recvCountsRank, void *recvCounts) {                \
    failure = allToAll(numRanks, inputRank, input, sendCountsRank,             \
                       sendCounts, outputRank, output, recvCountsRank,         \
                       recvCounts, bytes);                                     \
    if (!failure.empty())                                                      \
      reportFailure();                                                         \
  }
MOE_MPI_ROW_TYPES(MOE_MPI_DEFINE_ALL_TO_ALL)
#undef MOE_MPI_DEFINE_ALL_TO_ALL
