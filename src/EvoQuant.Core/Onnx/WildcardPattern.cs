using System.Text.RegularExpressions;

namespace EvoQuant.Onnx;

/// <summary>Case-insensitive <c>*</c>/<c>?</c> patterns over node names and op types, as PowerShell users write them.</summary>
internal sealed class WildcardPattern
{
    private readonly Regex _regex;

    public WildcardPattern(string pattern)
    {
        Pattern = pattern;
        string body = Regex.Escape(pattern).Replace(@"\*", ".*", StringComparison.Ordinal).Replace(@"\?", ".", StringComparison.Ordinal);
        _regex = new Regex("^" + body + "$", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant | RegexOptions.Singleline);
    }

    public string Pattern { get; }

    public bool IsMatch(string name) => _regex.IsMatch(name);
}
