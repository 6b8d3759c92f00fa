using System.Text;
using System.Text.RegularExpressions;

namespace EvoQuant.HelpGen;

/// <summary>The prose of one cmdlet's help, read from a platyPS-style markdown file (docs/help/Verb-Noun.md).
/// Only prose lives there; the parameter metadata comes from the cmdlet itself.</summary>
public sealed class CommandHelpSource
{
    public required string File { get; init; }
    public string Name { get; set; } = "";
    public Dictionary<string, string> FrontMatter { get; } = new(StringComparer.OrdinalIgnoreCase);
    public List<string> Synopsis { get; } = new();
    public List<string> Description { get; } = new();
    public List<ExampleHelp> Examples { get; } = new();
    /// <summary>Parameter name (without '-') -> its help, in the order of the file.</summary>
    public Dictionary<string, ParameterHelp> Parameters { get; } = new(StringComparer.OrdinalIgnoreCase);
    public List<TypeHelp> Inputs { get; } = new();
    public List<TypeHelp> Outputs { get; } = new();
    public List<string> Notes { get; } = new();
    public List<(string Text, string Uri)> Links { get; } = new();

    /// <summary>`help-status: planned` in the front matter: the cmdlet is still a stub, and parameters
    /// documented ahead of the code are not reported as stale.</summary>
    public bool IsPlanned => FrontMatter.TryGetValue("help-status", out var s) && s.Equals("planned", StringComparison.OrdinalIgnoreCase);
}

public sealed record ExampleHelp(string Title, string Code, List<string> Remarks);

public sealed class ParameterHelp
{
    public List<string> Description { get; } = new();
    public string? DefaultValue { get; set; }
    public bool? AcceptWildcards { get; set; }
}

public sealed record TypeHelp(string TypeName, List<string> Description);

public static partial class MarkdownHelp
{
    public static CommandHelpSource Parse(string path) => Parse(path, System.IO.File.ReadAllText(path));

    public static CommandHelpSource Parse(string path, string text)
    {
        var doc = new CommandHelpSource { File = path };
        var lines = text.Replace("\r\n", "\n").Split('\n');
        int i = 0;
        if (lines.Length > 0 && lines[0].Trim() == "---")
        {
            for (i = 1; i < lines.Length && lines[i].Trim() != "---"; i++)
            {
                int colon = lines[i].IndexOf(':');
                if (colon > 0) doc.FrontMatter[lines[i][..colon].Trim()] = lines[i][(colon + 1)..].Trim();
            }
            i++;
        }

        string section = "";
        string? sub = null;
        var block = new List<string>();

        void Flush()
        {
            if (block.Count == 0 && sub == null) return;
            var body = new List<string>(block);
            block.Clear();
            switch (section)
            {
                case "SYNOPSIS": doc.Synopsis.AddRange(Paragraphs(body)); break;
                case "DESCRIPTION": doc.Description.AddRange(Paragraphs(body)); break;
                case "NOTES": doc.Notes.AddRange(Paragraphs(body)); break;
                case "EXAMPLES" when sub != null:
                {
                    var (code, rest) = SplitFirstCode(body);
                    doc.Examples.Add(new ExampleHelp(sub, code, Paragraphs(rest)));
                    break;
                }
                case "PARAMETERS" when sub != null && sub.StartsWith('-'):
                {
                    var p = new ParameterHelp();
                    var (yaml, rest) = SplitFirstCode(body, "yaml");
                    foreach (var y in yaml.Split('\n'))
                    {
                        int c = y.IndexOf(':');
                        if (c <= 0) continue;
                        string key = y[..c].Trim(), value = y[(c + 1)..].Trim();
                        if (key.Equals("Default value", StringComparison.OrdinalIgnoreCase)) p.DefaultValue = value;
                        if (key.Equals("Accept wildcard characters", StringComparison.OrdinalIgnoreCase)) p.AcceptWildcards = value.Equals("true", StringComparison.OrdinalIgnoreCase);
                    }
                    p.Description.AddRange(Paragraphs(rest));
                    doc.Parameters[sub[1..].Trim()] = p;
                    break;
                }
                case "INPUTS" when sub != null: doc.Inputs.Add(new TypeHelp(sub, Paragraphs(body))); break;
                case "OUTPUTS" when sub != null: doc.Outputs.Add(new TypeHelp(sub, Paragraphs(body))); break;
                case "RELATED LINKS":
                    foreach (var l in body)
                    {
                        var m = LinkRegex().Match(l);
                        if (!m.Success) continue;
                        string uri = m.Groups[2].Value.Trim();
                        doc.Links.Add((m.Groups[1].Value.Trim(), uri.StartsWith("http", StringComparison.OrdinalIgnoreCase) ? uri : ""));
                    }
                    break;
            }
        }

        bool inFence = false;
        for (; i < lines.Length; i++)
        {
            string line = lines[i];
            if (line.TrimStart().StartsWith("```", StringComparison.Ordinal)) inFence = !inFence;
            if (!inFence && line.StartsWith("# ", StringComparison.Ordinal) && doc.Name.Length == 0)
            {
                doc.Name = line[2..].Trim();
                continue;
            }
            if (!inFence && line.StartsWith("## ", StringComparison.Ordinal))
            {
                Flush();
                section = line[3..].Trim().ToUpperInvariant();
                sub = null;
                continue;
            }
            if (!inFence && line.StartsWith("### ", StringComparison.Ordinal))
            {
                Flush();
                sub = line[4..].Trim();
                continue;
            }
            block.Add(line);
        }
        Flush();
        return doc;
    }

    /// <summary>Splits out the first fenced block (of the given info string, or any) from the rest.</summary>
    private static (string Code, List<string> Others) SplitFirstCode(List<string> body, string? info = null)
    {
        var rest = new List<string>();
        var code = new StringBuilder();
        bool found = false, inCode = false;
        foreach (var line in body)
        {
            string t = line.TrimStart();
            if (!found && !inCode && t.StartsWith("```", StringComparison.Ordinal) && (info == null || t[3..].Trim().Equals(info, StringComparison.OrdinalIgnoreCase)))
            {
                inCode = true;
                continue;
            }
            if (inCode && t.StartsWith("```", StringComparison.Ordinal))
            {
                inCode = false;
                found = true;
                continue;
            }
            if (inCode) code.Append(line).Append('\n');
            else rest.Add(line);
        }
        return (code.ToString().TrimEnd('\n'), rest);
    }

    /// <summary>Markdown lines -> plain paragraphs: blank lines separate, list items stand alone, fenced
    /// code is kept line by line (indented), inline markup is dropped.</summary>
    public static List<string> Paragraphs(IEnumerable<string> lines)
    {
        var result = new List<string>();
        var current = new StringBuilder();
        bool inCode = false;
        var code = new StringBuilder();

        void End()
        {
            if (current.Length > 0) result.Add(Inline(current.ToString().Trim()));
            current.Clear();
        }

        foreach (var raw in lines)
        {
            string line = raw.TrimEnd();
            if (line.TrimStart().StartsWith("```", StringComparison.Ordinal))
            {
                if (inCode)
                {
                    result.Add(code.ToString().TrimEnd('\n'));
                    code.Clear();
                }
                else End();
                inCode = !inCode;
                continue;
            }
            if (inCode)
            {
                code.Append("    ").Append(line).Append('\n');
                continue;
            }
            if (line.Trim().Length == 0)
            {
                End();
                continue;
            }
            string t = line.TrimStart();
            bool listItem = t.StartsWith("- ", StringComparison.Ordinal) || t.StartsWith("* ", StringComparison.Ordinal) || OrderedItem().IsMatch(t);
            if (listItem)
            {
                End();
                current.Append(t.StartsWith("* ", StringComparison.Ordinal) ? "- " + t[2..] : t);
                continue;
            }
            if (t.StartsWith('|'))
            {
                // Tables: keep each row as its own line of text.
                End();
                if (!TableRule().IsMatch(t)) result.Add(Inline(string.Join("  ", t.Trim('|').Split('|').Select(c => c.Trim()))));
                continue;
            }
            if (current.Length > 0) current.Append(' ');
            current.Append(t);
        }
        if (inCode && code.Length > 0) result.Add(code.ToString().TrimEnd('\n'));
        End();
        return result;
    }

    /// <summary>Drops inline markdown: links keep their text, code spans and emphasis their content.</summary>
    public static string Inline(string s)
    {
        s = LinkRegex().Replace(s, "$1");
        s = s.Replace("**", "", StringComparison.Ordinal).Replace("`", "", StringComparison.Ordinal);
        return s;
    }

    [GeneratedRegex(@"\[([^\]]+)\]\(([^)]*)\)")]
    private static partial Regex LinkRegex();

    [GeneratedRegex(@"^\d+\.\s")]
    private static partial Regex OrderedItem();

    [GeneratedRegex(@"^\|[\s:|-]+\|?$")]
    private static partial Regex TableRule();
}
