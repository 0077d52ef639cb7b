//===- Diagnostics.cpp - Diagnostics as text ------------------------------===//

#include "moe-c/Diagnostics.h"

#include "mlir/CAPI/IR.h"
#include "mlir/CAPI/Support.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"

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

MlirDiagnosticHandlerID
mlirMoEContextAttachDiagnosticPrinter(MlirContext context,
                                      MlirStringCallback callback,
                                      void *userData) {
  return unwrap(context)->getDiagEngine().registerHandler(
      [callback, userData](Diagnostic &diagnostic) {
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
        callback(wrap(StringRef(text)), userData);
        return success();
      });
}
