//===- Diagnostics.cpp - Diagnostics as text ------------------------------===//

#include "moe-c/Diagnostics.h"

#include "mlir/CAPI/IR.h"
#include "mlir/CAPI/Support.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"

#include <memory>

using namespace mlir;

static StringRef getSeverityName(DiagnosticSeverity severity) {
  switch (severity) {
  case DiagnosticSeverity::Note:
    return "note";
  case DiagnosticSeverity::Warning:
    return "warning";
  case DiagnosticSeverity::Error:
    return "error";
  case DiagnosticSeverity::Remark:
    return "remark";
  }
  llvm_unreachable("unknown diagnostic severity");
}

namespace {
/// The caller's data, deleted with the handler that holds it.
struct PrinterData {
  PrinterData(void *userData, void (*deleteUserData)(void *))
      : userData(userData), deleteUserData(deleteUserData) {}
  PrinterData(const PrinterData &) = delete;
  PrinterData &operator=(const PrinterData &) = delete;
  ~PrinterData() {
    if (deleteUserData)
      deleteUserData(userData);
  }
  void *userData;
  void (*deleteUserData)(void *);
};
} // namespace

MlirDiagnosticHandlerID moeContextAttachDiagnosticPrinter(
    MlirContext context, MlirStringCallback callback, void *userData,
    void (*deleteUserData)(void *)) {
  auto data = std::make_shared<PrinterData>(userData, deleteUserData);
  return unwrap(context)->getDiagEngine().registerHandler(
      [callback, data](Diagnostic &diagnostic) {
        std::string text;
        llvm::raw_string_ostream os(text);
        auto print = [&os](Diagnostic &each) {
          os << each.getLocation() << ": "
             << getSeverityName(each.getSeverity()) << ": " << each;
        };
        print(diagnostic);
        for (Diagnostic &note : diagnostic.getNotes()) {
          os << "\n";
          print(note);
        }
        callback(wrap(StringRef(text)), data->userData);
        return success();
      });
}
