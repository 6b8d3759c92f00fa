using System.Collections;
using System.Management.Automation;
using System.Management.Automation.Language;
using EvoQuant.Onnx;

namespace EvoQuant.PowerShell.Completers;

/// <summary>Base of the completers that offer names from the model given on the same command line:
/// -Model, -Reference or -Candidate (in that order), bound to a model object, a quantization result
/// (its .Model or .Path), a FileInfo or a path. Attach a subclass to a parameter with
/// <c>[ArgumentCompleter(typeof(NodeNameCompleter))]</c>.</summary>
public abstract class ModelArgumentCompleter : IArgumentCompleter
{
    /// <summary>The parameters a model is looked up in, first found wins.</summary>
    public static readonly IReadOnlyList<string> ModelParameterNames = new[] { "Model", "Reference", "Candidate" };

    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete,
        CommandAst commandAst, IDictionary fakeBoundParameters)
    {
        OnnxModel? model = null;
        try
        {
            model = FindModel(fakeBoundParameters);
        }
        catch (Exception e) when (e is OnnxModelException or IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            // A path that does not load yet (still being typed, or not a model): offer what needs no model.
        }
        return Complete(GetCandidates(model, fakeBoundParameters), wordToComplete);
    }

    /// <summary>Names to offer, with a tooltip each. <paramref name="model"/> is null when the command line names no loadable model.</summary>
    protected abstract IEnumerable<(string Name, string ToolTip)> GetCandidates(OnnxModel? model);

    /// <summary>As <see cref="GetCandidates(OnnxModel?)"/>, for completers that also read other parameters of the command line.</summary>
    protected virtual IEnumerable<(string Name, string ToolTip)> GetCandidates(OnnxModel? model, IDictionary? fakeBoundParameters) => GetCandidates(model);

    /// <summary>Filters by what was typed (a prefix, or a wildcard pattern) and quotes names that need it.</summary>
    public static IEnumerable<CompletionResult> Complete(IEnumerable<(string Name, string ToolTip)> candidates, string? wordToComplete)
    {
        string word = wordToComplete ?? "";
        char quote = word.Length > 0 && (word[0] == '\'' || word[0] == '"') ? word[0] : '\0';
        string typed = quote != '\0' ? word.Trim(quote) : word;
        var pattern = new WildcardPattern(WildcardPattern.ContainsWildcardCharacters(typed) ? typed : WildcardPattern.Escape(typed) + "*",
            WildcardOptions.IgnoreCase | WildcardOptions.CultureInvariant);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (name, tip) in candidates)
        {
            if (string.IsNullOrEmpty(name) || !seen.Add(name) || !pattern.IsMatch(name)) continue;
            yield return new CompletionResult(Quote(name, quote), name, CompletionResultType.ParameterValue, string.IsNullOrEmpty(tip) ? name : tip);
        }
    }

    /// <summary>A name as a PowerShell argument: bare when safe, else single-quoted (or in the quote the user opened).</summary>
    public static string Quote(string name, char quote = '\0')
    {
        if (quote == '"') return "\"" + name.Replace("`", "``").Replace("\"", "`\"").Replace("$", "`$") + "\"";
        bool needs = quote == '\'' || name.Length == 0 || name.Any(c => char.IsWhiteSpace(c) || "'\"`$;,(){}@#|&<>[]".Contains(c)) || name[0] == '-';
        return needs ? "'" + name.Replace("'", "''") + "'" : name;
    }

    /// <summary>The model of the command line, or null. Paths are resolved against the current PowerShell location.</summary>
    public static OnnxModel? FindModel(IDictionary? fakeBoundParameters)
    {
        if (fakeBoundParameters == null) return null;
        foreach (var key in ModelParameterNames)
        {
            if (!fakeBoundParameters.Contains(key)) continue;
            var model = ToModel(fakeBoundParameters[key]);
            if (model != null) return model;
        }
        return null;
    }

    internal static OnnxModel? ToModel(object? value)
    {
        if (value is PSObject pso) value = pso.BaseObject;
        if (value is object[] { Length: > 0 } array) value = array[0] is PSObject p0 ? p0.BaseObject : array[0];
        switch (value)
        {
            case null: return null;
            case OnnxModel m: return m;
            case FileInfo f: return ModelCache.Load(f.FullName);
            case string s when s.Length > 0: return ModelCache.Load(ResolvePath(s));
        }
        // A quantization result or any object with a .Model (model) or .Path (file) property.
        var obj = PSObject.AsPSObject(value);
        var modelValue = obj.Properties["Model"]?.Value;
        if (modelValue != null && !ReferenceEquals(modelValue, value))
        {
            var inner = ToModel(modelValue);
            if (inner != null) return inner;
        }
        return obj.Properties["Path"]?.Value is string path && path.Length > 0 ? ModelCache.Load(ResolvePath(path)) : null;
    }

    private static string ResolvePath(string path)
    {
        path = path.Trim('\'', '"');
        try
        {
            // On the pipeline thread (where completion runs) a nested command may use the session state.
            using var ps = System.Management.Automation.PowerShell.Create(RunspaceMode.CurrentRunspace);
            ps.AddScript("$ExecutionContext.SessionState.Path.GetUnresolvedProviderPathFromPSPath($args[0])").AddArgument(path);
            var r = ps.Invoke();
            if (r.Count == 1 && r[0]?.BaseObject is string resolved) return resolved;
        }
        catch (Exception e) when (e is PSInvalidOperationException or InvalidOperationException or RuntimeException)
        {
            // No current runspace (e.g. the completer called from C#): fall back to the process directory.
        }
        return Path.GetFullPath(path);
    }
}
