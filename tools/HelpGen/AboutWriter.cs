using System.Text;

namespace EvoQuant.HelpGen;

/// <summary>Turns docs/about_*.md into the plain-text about_*.help.txt that Get-Help shows: "## X" becomes
/// a section title in capitals, prose is wrapped at 80 columns and indented, code is kept as written.</summary>
public static class AboutWriter
{
    public const int Width = 80;

    public static string Convert(string markdown)
    {
        var sb = new StringBuilder();
        var lines = markdown.Replace("\r\n", "\n").Split('\n');
        var para = new List<string>();
        bool inCode = false;
        var table = new List<string[]>();

        void EndTable()
        {
            if (table.Count == 0) return;
            int cols = table.Max(r => r.Length);
            var widths = Enumerable.Range(0, cols).Select(c => table.Max(r => c < r.Length ? r[c].Length : 0)).ToArray();
            foreach (var row in table)
                sb.Append("    ").Append(string.Join("  ", row.Select((cell, c) => c == row.Length - 1 ? cell : cell.PadRight(widths[c]))).TrimEnd()).Append('\n');
            sb.Append('\n');
            table.Clear();
        }

        void EndPara()
        {
            if (para.Count == 0) return;
            string first = para[0].TrimStart();
            bool list = first.StartsWith("- ", StringComparison.Ordinal) || first.StartsWith("* ", StringComparison.Ordinal);
            string text = MarkdownHelp.Inline(string.Join(" ", para.Select(l => l.Trim())));
            if (list) text = "- " + text[2..];
            Wrap(sb, text, list ? 4 : 4, list ? 6 : 4);
            para.Clear();
        }

        foreach (var raw in lines)
        {
            string line = raw.TrimEnd();
            if (line.TrimStart().StartsWith("```", StringComparison.Ordinal))
            {
                EndPara();
                if (inCode) sb.Append('\n');
                inCode = !inCode;
                continue;
            }
            if (inCode)
            {
                sb.Append(line.Length == 0 ? "" : "        " + line).Append('\n');
                continue;
            }
            if (line.StartsWith("# ", StringComparison.Ordinal))
            {
                // The topic name: the file starts with TOPIC.
                EndPara();
                sb.Append("TOPIC\n    ").Append(line[2..].Trim()).Append("\n\n");
                continue;
            }
            if (line.StartsWith("## ", StringComparison.Ordinal))
            {
                EndPara();
                sb.Append(line[3..].Trim().ToUpperInvariant()).Append('\n');
                continue;
            }
            if (line.StartsWith("### ", StringComparison.Ordinal))
            {
                EndPara();
                sb.Append("  ").Append(line[4..].Trim()).Append("\n\n");
                continue;
            }
            if (line.Trim().Length == 0)
            {
                EndPara();
                EndTable();
                continue;
            }
            string t = line.TrimStart();
            if (t.StartsWith("- ", StringComparison.Ordinal) || t.StartsWith("* ", StringComparison.Ordinal) || t.StartsWith('|'))
            {
                EndPara();
                if (t.StartsWith('|'))
                {
                    if (t.Trim('|', ' ', '-', ':').Length > 0) // not the rule under the header
                        table.Add(t.Trim().Trim('|').Split('|').Select(c => MarkdownHelp.Inline(c.Trim())).ToArray());
                    continue;
                }
            }
            para.Add(line);
        }
        EndPara();
        EndTable();
        return sb.ToString().TrimEnd('\n') + "\n";
    }

    private static void Wrap(StringBuilder sb, string text, int indent, int hanging)
    {
        int col = 0;
        bool first = true;
        foreach (var word in text.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            if (first)
            {
                sb.Append(' ', indent).Append(word);
                col = indent + word.Length;
                first = false;
            }
            else if (col + 1 + word.Length > Width)
            {
                sb.Append('\n').Append(' ', hanging).Append(word);
                col = hanging + word.Length;
            }
            else
            {
                sb.Append(' ').Append(word);
                col += 1 + word.Length;
            }
        }
        sb.Append("\n\n");
    }
}
