/*===- MPIRuntime.h - The collectives compiled CPU code calls ----*- C -*-===*\
|*                                                                            *|
|* Expert parallelism on the CPU: `moe.all_to_all` becomes calls of these     *|
|* functions (convert-moe-collectives-to-mpi), one process per rank, over    *|
|* MPI_COMM_WORLD. Buffers arrive as MLIR unranked memrefs, a rank and a      *|
|* pointer to the ranked descriptor (allocated and aligned pointers, offset,  *|
|* sizes, strides), and must be contiguous.                                   *|
|*                                                                            *|
|* This library links MPI; programs load it with dlopen only when a model    *|
|* exchanges tokens, so they start (and say what is missing) on machines     *|
|* without MPI. Every MPI call is checked; a failure, or a job whose size is  *|
|* not the rank count the model was compiled for, goes to the error handler, *|
|* which must not return.                                                     *|
|*                                                                            *|
\*===----------------------------------------------------------------------===*/

#ifndef MOE_RUNTIME_MPIRUNTIME_H
#define MOE_RUNTIME_MPIRUNTIME_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Control API, for the execution library. */

/* Initializes MPI (unless the program did) and reports this process's rank
   and the job's size. Returns 0, or writes why not to `message` and returns
   -1. */
int moeMpiInitialize(int *rank, int *size, char *message, size_t messageSize);

/* Ends this process with `errorCode` without finalizing MPI: the launcher
   then ends the job's other processes. (MPI_Abort would too, but the
   launcher may kill the ranks before their last messages are forwarded.) */
void moeMpiAbort(int errorCode);

/* Receives every failure; must not return. */
typedef void (*MoeMpiErrorHandler)(const char *message);
void moeMpiSetErrorHandler(MoeMpiErrorHandler handler);

/* Entry points of compiled code. `numRanks` is the op's `num_ranks`; counts
   are `numRanks` int64 values. */

/* Sends sendCounts[r] to rank r; recvCounts[r] is what rank r sent here. */
void moe_mpi_exchange_counts(int64_t numRanks, int64_t sendCountsRank,
                             void *sendCounts, int64_t recvCountsRank,
                             void *recvCounts);

/* Sends consecutive blocks of sendCounts[r] rows of `input` to rank r and
   receives, in rank order, recvCounts[r] rows from rank r into `output`.
   A row is everything after the leading dimension. One function per element
   type, since compiled code declares typed memrefs:
   moe_mpi_all_to_all_<type>, for each type of MOE_MPI_ROW_TYPES. */

/* The element types of rows, as MLIR spells them, with their size in bytes:
   the one list the runtime, its loader and the lowering follow. */
#define MOE_MPI_ROW_TYPES(X)                                                   \
  X(bf16, 2) X(f16, 2) X(f32, 4) X(f64, 8) X(i32, 4) X(i64, 8)

#define MOE_MPI_DECLARE_ALL_TO_ALL(type, bytes)                                \
  void moe_mpi_all_to_all_##type(                                              \
      int64_t numRanks, int64_t inputRank, void *input,                        \
      int64_t sendCountsRank, void *sendCounts, int64_t outputRank,            \
      void *output, int64_t recvCountsRank, void *recvCounts);
MOE_MPI_ROW_TYPES(MOE_MPI_DECLARE_ALL_TO_ALL)
#undef MOE_MPI_DECLARE_ALL_TO_ALL

#ifdef __cplusplus
}
#endif

#endif /* MOE_RUNTIME_MPIRUNTIME_H */
