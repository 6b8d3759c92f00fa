using System.Management.Automation;
using EvoQuant.Onnx;

namespace EvoQuant.PowerShell.Infrastructure;

/// <summary>Core exception kinds -> ErrorId suffix, category and the action a user can take. The IDs are
/// part of the module's contract: scripts and Pester tests match on them.</summary>
internal static class ErrorMapping
{
    public static (string Reason, ErrorCategory Category, string Action) ForModel(ModelErrorKind kind) => kind switch
    {
        ModelErrorKind.NotFound => ("ModelNotFound", ErrorCategory.ObjectNotFound, "Check the path; wildcards need -Path, not -LiteralPath."),
        ModelErrorKind.IsDirectory => ("PathIsDirectory", ErrorCategory.InvalidArgument, "Give the path of an .onnx file, not of a folder."),
        ModelErrorKind.Empty => ("ModelEmpty", ErrorCategory.InvalidData, "The file has no content; export or download the model again."),
        ModelErrorKind.Corrupt => ("ModelCorrupt", ErrorCategory.InvalidData, "The file is not an ONNX model or is truncated; export or download it again."),
        ModelErrorKind.Invalid => ("ModelInvalid", ErrorCategory.InvalidData, "The model breaks ONNX rules; check it with onnx.checker or re-export it."),
        ModelErrorKind.ExternalDataOutsideFolder => ("ExternalDataOutsideFolder", ErrorCategory.SecurityError,
            "External data must be a relative path inside the model's folder; do not load models from untrusted sources."),
        ModelErrorKind.ExternalDataMissing => ("ExternalDataMissing", ErrorCategory.ObjectNotFound, "Keep the model's .data files next to the .onnx file."),
        ModelErrorKind.ExternalDataOutOfRange => ("ExternalDataOutOfRange", ErrorCategory.InvalidData,
            "The model's external data file is shorter than its tensors say; copy the model together with its .data files again."),
        ModelErrorKind.WouldOverwrite => ("OutputExists", ErrorCategory.ResourceExists, "Choose another -Path, or use -Force to replace an existing output (inputs are never replaced)."),
        ModelErrorKind.TooLarge => ("ModelTooLarge", ErrorCategory.LimitsExceeded, "Save models of 2 GiB and more with external data."),
        ModelErrorKind.OutputInvalid => ("OutputInvalid", ErrorCategory.InvalidResult,
            "Nothing was written. Keep the node named in the message in float with -ExcludeNode, and report the model so we can fix it."),
        ModelErrorKind.NotRunnable => ("ModelNotRunnable", ErrorCategory.InvalidData,
            "ONNX Runtime cannot load this model (see the message): check it with onnx.checker, or re-export it with operators and types ONNX Runtime supports."),
        _ => ("ModelError", ErrorCategory.NotSpecified, "See the error message."),
    };
}
