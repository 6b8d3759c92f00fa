using System.Management.Automation;
using EvoQuant.Onnx;

namespace EvoQuant.PowerShell.Infrastructure;

/// <summary>What every EvoQuant cmdlet shares: cancellation on Ctrl+C, error records with stable
/// ErrorIds, path resolution. Cmdlets stay thin: bind, call Core, translate.</summary>
public abstract class EvoQuantCmdlet : PSCmdlet
{
    private readonly CancellationTokenSource _cancellation = new();

    /// <summary>Cancelled by Ctrl+C (StopProcessing); Core checks it between batches.</summary>
    protected CancellationToken CancellationToken => _cancellation.Token;

    protected override void StopProcessing() => _cancellation.Cancel();

    /// <summary>"Get-OnnxGraph" -> "GetOnnxGraph": the prefix of this cmdlet's ErrorIds.</summary>
    protected string ErrorIdPrefix => MyInvocation.MyCommand.Name.Replace("-", "", StringComparison.Ordinal);

    protected ErrorRecord NewError(Exception exception, string reason, ErrorCategory category, object? target, string? recommendedAction = null)
    {
        var record = new ErrorRecord(exception, ErrorIdPrefix + reason, category, target);
        if (recommendedAction != null) record.ErrorDetails = new ErrorDetails(exception.Message) { RecommendedAction = recommendedAction };
        return record;
    }

    /// <summary>The error record for a model that cannot be read or written.</summary>
    protected ErrorRecord ModelError(OnnxModelException e, object? target = null)
    {
        var (reason, category, action) = ErrorMapping.ForModel(e.Kind);
        return NewError(e, reason, category, target ?? e.ModelPath, action);
    }

    /// <summary>The error record for an output the file system refused (read-only folder, a parent that is
    /// a file, /proc): ...OutputNotWritable, PermissionDenied when access was denied, else WriteError.</summary>
    protected ErrorRecord OutputError(EvoQuant.IO.OutputNotWritableException e) =>
        NewError(e, "OutputNotWritable", e.AccessDenied ? ErrorCategory.PermissionDenied : ErrorCategory.WriteError, e.OutputPath,
            "Choose an output path in a folder you can write to; nothing was written.");

    /// <summary>The error record for an output path refused before anything was written.</summary>
    internal ErrorRecord RefusedError(OutputRefusedException e) => NewError(e, e.Reason, e.Category, e.OutputPath, e.Action);

    /// <summary>An output path that names no usable file: empty or blank, a blank file name, or a path
    /// ending in a separator that is not an existing folder. Returns the reason, or null when usable.</summary>
    internal static string? UnusableOutputPath(string? path, bool folderAllowed)
    {
        if (string.IsNullOrWhiteSpace(path)) return "The output path is empty or blank.";
        string name = System.IO.Path.GetFileName(path.TrimEnd());
        if (path.Length > 0 && (path[^1] == '/' || path[^1] == System.IO.Path.DirectorySeparatorChar))
            return folderAllowed ? null : $"'{path}' ends with a separator, so it names a folder, not a file.";
        if (name.Trim().Length == 0 || name.Trim() != name) return $"The file name '{name}' begins or ends with blanks; give a real file name.";
        return null;
    }

    /// <summary>Resolves -Path (wildcards) or -LiteralPath to file-system paths, writing a non-terminating
    /// error for each that matches nothing. <paramref name="models"/>: the paths name models (a missing
    /// one is ...ModelNotFound, as the loader says); otherwise they name inputs (...InputNotFound).</summary>
    protected List<string> ResolvePaths(IEnumerable<string> paths, bool literal, bool models = true)
    {
        var result = new List<string>();
        foreach (string p in paths)
        {
            try
            {
                if (literal)
                {
                    result.Add(SessionState.Path.GetUnresolvedProviderPathFromPSPath(p));
                    continue;
                }
                var resolved = SessionState.Path.GetResolvedProviderPathFromPSPath(p, out ProviderInfo provider);
                if (provider.Name != "FileSystem")
                {
                    WriteError(NewError(new ArgumentException($"'{p}' is not a file-system path."), "NotFileSystemPath", ErrorCategory.InvalidArgument, p));
                    continue;
                }
                if (resolved.Count == 0 && WildcardPattern.ContainsWildcardCharacters(p))
                {
                    WriteError(NewError(new ItemNotFoundException($"No file matches '{p}'."), "PathNotFound", ErrorCategory.ObjectNotFound, p,
                        "Check the path and the wildcard pattern."));
                    continue;
                }
                result.AddRange(resolved);
            }
            catch (ItemNotFoundException e)
            {
                if (models)
                {
                    // Reported as the model loader reports it, so scripts see one ErrorId for a missing model.
                    WriteError(ModelError(new OnnxModelException(ModelErrorKind.NotFound, e.Message, p, e), p));
                    continue;
                }
                WriteError(NewError(e, "InputNotFound", ErrorCategory.ObjectNotFound, p, "Check the path of the sample or table file."));
            }
        }
        return result;
    }
}
