//===- HostArray.cpp - Dense arrays in host memory and .npy ---------------===//
//
// The .npy format: the magic "\x93NUMPY", a major/minor version byte pair, a
// little-endian header length (2 bytes in version 1, 4 in versions 2 and 3),
// then a Python dict literal with 'descr', 'fortran_order' and 'shape',
// padded with spaces and a newline; the raw data follows.
//
//===----------------------------------------------------------------------===//

#include "moe/Execution/HostArray.h"

#include "mlir/IR/BuiltinTypes.h"
#include "llvm/ADT/ScopeExit.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringSwitch.h"
#include "llvm/Support/Endian.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/raw_ostream.h"

#include <cstring>

using namespace mlir;
using namespace mlir::moe;

static constexpr StringLiteral kMagic = "\x93NUMPY";

size_t moe::getElementSize(ElementKind kind) {
  switch (kind) {
  case ElementKind::F16:
  case ElementKind::BF16:
    return 2;
  case ElementKind::F32:
  case ElementKind::I32:
    return 4;
  case ElementKind::F64:
  case ElementKind::I64:
    return 8;
  }
  llvm_unreachable("unknown element kind");
}

StringRef moe::getElementKindName(ElementKind kind) {
  switch (kind) {
  case ElementKind::F16:
    return "f16";
  case ElementKind::BF16:
    return "bf16";
  case ElementKind::F32:
    return "f32";
  case ElementKind::F64:
    return "f64";
  case ElementKind::I32:
    return "i32";
  case ElementKind::I64:
    return "i64";
  }
  llvm_unreachable("unknown element kind");
}

std::optional<ElementKind> moe::getElementKind(Type type) {
  if (type.isF16())
    return ElementKind::F16;
  if (type.isBF16())
    return ElementKind::BF16;
  if (type.isF32())
    return ElementKind::F32;
  if (type.isF64())
    return ElementKind::F64;
  if (type.isSignlessInteger(32))
    return ElementKind::I32;
  if (type.isSignlessInteger(64))
    return ElementKind::I64;
  return std::nullopt;
}

llvm::Error moe::checkShape(ArrayRef<int64_t> shape) {
  constexpr uint64_t kMaxElements = uint64_t(1) << 48;
  uint64_t nonZeroProduct = 1;
  for (auto [dim, size] : llvm::enumerate(shape)) {
    if (size < 0)
      return llvm::createStringError("dimension " + Twine(dim) +
                                     " has a negative size (" + Twine(size) +
                                     ")");
    if (static_cast<uint64_t>(size) > kMaxElements ||
        (size != 0 &&
         nonZeroProduct > kMaxElements / static_cast<uint64_t>(size)))
      return llvm::createStringError("the shape is too large (dimension " +
                                     Twine(dim) + " has size " + Twine(size) +
                                     ")");
    if (size != 0)
      nonZeroProduct *= static_cast<uint64_t>(size);
  }
  return llvm::Error::success();
}

int64_t HostArrayRef::getNumElements() const {
  int64_t count = 1;
  for (int64_t size : shape)
    count *= size;
  return count;
}

std::string HostArrayRef::describe() const {
  std::string text = "tensor<";
  for (int64_t size : shape)
    text += std::to_string(size) + "x";
  return text + getElementKindName(kind).str() + ">";
}

int64_t HostArray::getNumElements() const {
  return HostArrayRef(*this).getNumElements();
}

std::string HostArray::describe() const {
  return HostArrayRef(*this).describe();
}

static float halfToFloat(uint16_t bits) {
  uint32_t sign = static_cast<uint32_t>(bits & 0x8000) << 16;
  uint32_t exponent = (bits >> 10) & 0x1f;
  uint32_t mantissa = bits & 0x3ff;
  uint32_t result;
  if (exponent == 0x1f) {
    result = sign | 0x7f800000 | (mantissa << 13);
  } else if (exponent != 0) {
    result = sign | ((exponent + 112) << 23) | (mantissa << 13);
  } else if (mantissa == 0) {
    result = sign;
  } else {
    // Subnormal: renormalize into a float32 normal.
    exponent = 113;
    while (!(mantissa & 0x400)) {
      mantissa <<= 1;
      --exponent;
    }
    result = sign | (exponent << 23) | ((mantissa & 0x3ff) << 13);
  }
  float value;
  std::memcpy(&value, &result, sizeof(value));
  return value;
}

double HostArray::getAsDouble(int64_t index) const {
  const uint8_t *element = data.data() + index * getElementSize(kind);
  switch (kind) {
  case ElementKind::F16:
    return halfToFloat(llvm::support::endian::read16le(element));
  case ElementKind::BF16: {
    uint32_t bits = static_cast<uint32_t>(
                        llvm::support::endian::read16le(element))
                    << 16;
    float value;
    std::memcpy(&value, &bits, sizeof(value));
    return value;
  }
  case ElementKind::F32: {
    float value;
    std::memcpy(&value, element, sizeof(value));
    return value;
  }
  case ElementKind::F64: {
    double value;
    std::memcpy(&value, element, sizeof(value));
    return value;
  }
  case ElementKind::I32:
    return static_cast<int32_t>(llvm::support::endian::read32le(element));
  case ElementKind::I64:
    return static_cast<double>(
        static_cast<int64_t>(llvm::support::endian::read64le(element)));
  }
  llvm_unreachable("unknown element kind");
}

namespace {

/// The few pieces of a Python dict literal that .npy headers use.
class HeaderParser {
public:
  HeaderParser(StringRef header, StringRef name) : rest(header), name(name) {}

  llvm::Error parse(std::string &descr, bool &fortranOrder,
                    SmallVectorImpl<int64_t> &shape) {
    bool haveDescr = false, haveOrder = false, haveShape = false;
    auto once = [&](bool &seen, StringRef key) -> llvm::Error {
      if (seen)
        return fail("the key '" + key + "' appears twice");
      seen = true;
      return llvm::Error::success();
    };
    skipSpace();
    if (!consume("{"))
      return fail("the header is not a dict");
    while (true) {
      skipSpace();
      if (consume("}"))
        break;
      std::string key;
      if (auto error = parseString(key))
        return error;
      skipSpace();
      if (!consume(":"))
        return fail("expected ':' after '" + key + "'");
      skipSpace();
      if (key == "descr") {
        if (auto error = once(haveDescr, key))
          return error;
        if (auto error = parseString(descr))
          return error;
      } else if (key == "fortran_order") {
        if (auto error = once(haveOrder, key))
          return error;
        if (consume("True"))
          fortranOrder = true;
        else if (consume("False"))
          fortranOrder = false;
        else
          return fail("'fortran_order' is neither True nor False");
      } else if (key == "shape") {
        if (auto error = once(haveShape, key))
          return error;
        if (auto error = parseShape(shape))
          return error;
      } else {
        return fail("unexpected header key '" + key + "'");
      }
      skipSpace();
      if (!consume(",")) {
        skipSpace();
        if (!consume("}"))
          return fail("expected ',' or '}' in the header");
        break;
      }
    }
    if (!haveDescr || !haveOrder || !haveShape)
      return fail("the header lacks 'descr', 'fortran_order' or 'shape'");
    return llvm::Error::success();
  }

private:
  void skipSpace() { rest = rest.ltrim(" \t\n\r"); }
  bool consume(StringRef token) { return rest.consume_front(token); }

  llvm::Error fail(const Twine &message) const {
    return llvm::createStringError(name + ": malformed .npy header: " +
                                   message);
  }

  llvm::Error parseString(std::string &out) {
    char quote = rest.empty() ? 0 : rest.front();
    if (quote != '\'' && quote != '"')
      return fail("expected a quoted string");
    size_t end = rest.find(quote, 1);
    if (end == StringRef::npos)
      return fail("unterminated string");
    out = rest.substr(1, end - 1).str();
    rest = rest.drop_front(end + 1);
    return llvm::Error::success();
  }

  llvm::Error parseShape(SmallVectorImpl<int64_t> &shape) {
    if (!consume("("))
      return fail("'shape' is not a tuple");
    while (true) {
      skipSpace();
      if (consume(")"))
        return llvm::Error::success();
      size_t digits = rest.find_first_not_of("0123456789");
      if (digits == 0 || digits == StringRef::npos)
        return fail("'shape' holds something other than sizes");
      int64_t size;
      // More than 18 digits would overflow int64_t.
      if (digits > 18 || rest.take_front(digits).getAsInteger(10, size))
        return fail("a size in 'shape' is too large");
      shape.push_back(size);
      rest = rest.drop_front(digits);
      skipSpace();
      if (!consume(",")) {
        skipSpace();
        if (!consume(")"))
          return fail("expected ',' or ')' in 'shape'");
        return llvm::Error::success();
      }
    }
  }

  StringRef rest;
  StringRef name;
};

std::optional<ElementKind> kindOfDescr(StringRef descr) {
  return llvm::StringSwitch<std::optional<ElementKind>>(descr)
      .Case("<f2", ElementKind::F16)
      .Cases({"<u2", "<V2", "|V2"}, ElementKind::BF16)
      .Case("<f4", ElementKind::F32)
      .Case("<f8", ElementKind::F64)
      .Case("<i4", ElementKind::I32)
      .Case("<i8", ElementKind::I64)
      .Default(std::nullopt);
}

} // namespace

/// The bytes of a .npy file up to its data: how many there are, known from
/// its first `kNpyPrefixBytes`, and what they say.
constexpr size_t kNpyPrefixBytes = 12;
/// Longer headers are refused before they are read: NumPy writes a few
/// hundred bytes, and reads at most 10000 unless told otherwise.
constexpr size_t kMaxNpyHeaderBytes = size_t(1) << 20;

/// An error about the .npy input `name`.
static llvm::Error npyError(StringRef name, const Twine &message) {
  return llvm::createStringError(name + ": " + message);
}

namespace {
/// Where the dict of a .npy header starts and the header ends.
struct NpyHeaderExtent {
  size_t dictStart;
  size_t end;
};
} // namespace

/// The extent of the .npy header at the start of `contents` (magic,
/// version, length field and dict), from at least its first
/// `kNpyPrefixBytes` (or the whole file, if shorter).
static llvm::Expected<NpyHeaderExtent> npyHeaderExtent(StringRef contents,
                                                       StringRef name) {
  auto fail = [&](const Twine &message) { return npyError(name, message); };
  if (!contents.starts_with(kMagic))
    return fail("not a .npy file (bad magic)");
  StringRef rest = contents.drop_front(kMagic.size());
  if (rest.size() < 2)
    return fail("truncated .npy header");
  uint8_t major = rest[0];
  rest = rest.drop_front(2);
  size_t fieldBytes;
  if (major == 1)
    fieldBytes = 2;
  else if (major == 2 || major == 3)
    fieldBytes = 4;
  else
    return fail("unsupported .npy format version " + Twine(major));
  if (rest.size() < fieldBytes)
    return fail("truncated .npy header");
  size_t dictBytes = fieldBytes == 2
                         ? llvm::support::endian::read16le(rest.data())
                         : llvm::support::endian::read32le(rest.data());
  if (dictBytes > kMaxNpyHeaderBytes)
    return fail("the .npy header is " + Twine(dictBytes) +
                " bytes long, more than the " + Twine(kMaxNpyHeaderBytes) +
                " read");
  size_t dictStart = kMagic.size() + 2 + fieldBytes;
  return NpyHeaderExtent{dictStart, dictStart + dictBytes};
}

namespace {
/// What a .npy header says.
struct NpyHeader {
  /// The array, without its data.
  HostArray array;
  /// Where the data starts, and how many bytes of it the header promises.
  size_t dataOffset;
  uint64_t dataBytes;
};
} // namespace

/// Parses the .npy header at the start of `contents`, which holds at least
/// all of it (`npyHeaderExtent`).
static llvm::Expected<NpyHeader> parseNpyHeader(StringRef contents,
                                                StringRef name) {
  auto fail = [&](const Twine &message) { return npyError(name, message); };
  auto extent = npyHeaderExtent(contents, name);
  if (!extent)
    return extent.takeError();
  if (contents.size() < extent->end)
    return fail("truncated .npy header");
  std::string descr;
  bool fortranOrder = false;
  HostArray array;
  HeaderParser parser(contents.slice(extent->dictStart, extent->end), name);
  if (auto error = parser.parse(descr, fortranOrder, array.shape))
    return std::move(error);
  if (fortranOrder)
    return fail("Fortran-ordered arrays are not supported; save a C-ordered "
                "array (numpy.ascontiguousarray)");
  std::optional<ElementKind> kind = kindOfDescr(descr);
  if (!kind)
    return fail("unsupported dtype '" + descr +
                "' (expected little-endian float16, bfloat16 as uint16, "
                "float32, float64, int32 or int64)");
  array.kind = *kind;

  if (auto error = checkShape(array.shape))
    return fail(llvm::toString(std::move(error)));
  uint64_t bytes =
      HostArrayRef{array.kind, array.shape, nullptr}.getSizeInBytes();
  return NpyHeader{std::move(array), extent->end, bytes};
}

/// Checks that the `available` bytes after the header are the `promised`
/// ones.
static llvm::Error checkNpyDataSize(uint64_t promised, uint64_t available,
                                    StringRef name) {
  if (available < promised)
    return npyError(name, "truncated data: the header promises " +
                              Twine(promised) + " bytes, the file holds " +
                              Twine(available));
  if (available > promised)
    return npyError(name, "trailing bytes after the data: expected " +
                              Twine(promised) + ", found " + Twine(available));
  return llvm::Error::success();
}

llvm::Expected<HostArray> moe::parseNpy(StringRef contents, StringRef name) {
  auto header = parseNpyHeader(contents, name);
  if (!header)
    return header.takeError();
  StringRef data = contents.drop_front(header->dataOffset);
  if (auto error = checkNpyDataSize(header->dataBytes, data.size(), name))
    return std::move(error);
  header->array.data.assign(data.bytes_begin(), data.bytes_end());
  return std::move(header->array);
}

llvm::Expected<HostArray> moe::readNpy(StringRef path) {
  auto cannotRead = [&](std::error_code error) {
    return llvm::createStringError(error, "cannot read '" + path +
                                              "': " + error.message());
  };
  // The data of a regular file is read straight into the array: a mapped
  // file copied into it would hold the array twice, which for expert weights
  // is the run's peak. Pipes and devices are read whole first.
  llvm::Expected<llvm::sys::fs::file_t> file =
      llvm::sys::fs::openNativeFileForRead(path);
  if (!file)
    return cannotRead(llvm::errorToErrorCode(file.takeError()));
  llvm::scope_exit close([&] { llvm::sys::fs::closeFile(*file); });
  llvm::sys::fs::file_status status;
  if (std::error_code error = llvm::sys::fs::status(*file, status))
    return cannotRead(error);
  if (status.type() != llvm::sys::fs::file_type::regular_file) {
    llvm::ErrorOr<std::unique_ptr<llvm::MemoryBuffer>> contents =
        llvm::MemoryBuffer::getOpenFile(*file, path, /*FileSize=*/-1,
                                        /*RequiresNullTerminator=*/false);
    if (!contents)
      return cannotRead(contents.getError());
    return parseNpy((*contents)->getBuffer(), path);
  }
  uint64_t fileBytes = status.getSize();
  // Reads `bytes` bytes at `offset` into `buffer`, all of them.
  auto readAt = [&](char *buffer, size_t bytes,
                    uint64_t offset) -> llvm::Error {
    while (bytes > 0) {
      llvm::Expected<size_t> read = llvm::sys::fs::readNativeFileSlice(
          *file, llvm::MutableArrayRef<char>(buffer, bytes), offset);
      if (!read)
        return cannotRead(llvm::errorToErrorCode(read.takeError()));
      if (*read == 0)
        return cannotRead(std::make_error_code(std::errc::io_error));
      buffer += *read;
      offset += *read;
      bytes -= *read;
    }
    return llvm::Error::success();
  };

  std::string header(std::min<uint64_t>(fileBytes, kNpyPrefixBytes), '\0');
  if (auto error = readAt(header.data(), header.size(), 0))
    return std::move(error);
  auto extent = npyHeaderExtent(header, path);
  if (!extent)
    return extent.takeError();
  if (extent->end > header.size()) {
    size_t prefix = header.size();
    header.resize(std::min<uint64_t>(fileBytes, extent->end));
    if (auto error =
            readAt(header.data() + prefix, header.size() - prefix, prefix))
      return std::move(error);
  }
  auto parsed = parseNpyHeader(header, path);
  if (!parsed)
    return parsed.takeError();
  uint64_t bytes = parsed->dataBytes;
  if (auto error =
          checkNpyDataSize(bytes, fileBytes - parsed->dataOffset, path))
    return std::move(error);
  HostArray &array = parsed->array;
  array.data.resize(bytes);
  if (auto error = readAt(reinterpret_cast<char *>(array.data.data()), bytes,
                          parsed->dataOffset))
    return std::move(error);
  return std::move(array);
}

std::string moe::encodeNpy(const HostArray &array) {
  StringRef descr;
  switch (array.kind) {
  case ElementKind::F16:
    descr = "<f2";
    break;
  case ElementKind::BF16:
    descr = "<u2";
    break;
  case ElementKind::F32:
    descr = "<f4";
    break;
  case ElementKind::F64:
    descr = "<f8";
    break;
  case ElementKind::I32:
    descr = "<i4";
    break;
  case ElementKind::I64:
    descr = "<i8";
    break;
  }
  SmallVector<std::string> sizes;
  for (int64_t size : array.shape)
    sizes.push_back(std::to_string(size));
  // Python's tuple syntax: "()", "(4,)", "(2, 3)".
  std::string shape = "(" + llvm::join(sizes, ", ") +
                      (sizes.size() == 1 ? ",)" : ")");
  std::string header = "{'descr': '" + descr.str() +
                       "', 'fortran_order': False, 'shape': " + shape + ", }";
  // Magic, version and length take 10 bytes; the header ends in '\n' and the
  // data starts 64-byte aligned.
  size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';

  std::string bytes(kMagic);
  bytes += '\x01';
  bytes += '\x00';
  bytes += static_cast<char>(header.size() & 0xff);
  bytes += static_cast<char>(header.size() >> 8);
  bytes += header;
  bytes.append(reinterpret_cast<const char *>(array.data.data()),
               array.data.size());
  return bytes;
}

llvm::Error moe::writeNpy(StringRef path, const HostArray &array) {
  std::error_code error;
  llvm::raw_fd_ostream out(path, error, llvm::sys::fs::OF_None);
  if (error)
    return llvm::createStringError(error, "cannot write '" + path +
                                              "': " + error.message());
  out << encodeNpy(array);
  out.close();
  if (out.has_error())
    return llvm::createStringError(out.error(), "cannot write '" + path +
                                                    "': " +
                                                    out.error().message());
  return llvm::Error::success();
}
