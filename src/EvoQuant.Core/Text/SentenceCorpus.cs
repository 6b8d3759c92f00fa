using System.Text;

namespace EvoQuant.Text;

/// <summary>Real English text for calibrating and evaluating text models: the entries of fortune-format
/// files (entries separated by lines holding only "%", as Debian's fortunes packages ship them), with
/// whitespace collapsed, ASCII art and near-empty entries dropped and duplicates removed. The order is
/// fixed (files by name, entries in file order), so splits are reproducible.</summary>
public sealed class SentenceCorpus
{
    /// <summary>Files that hold pictures, not sentences.</summary>
    private static readonly HashSet<string> PictureFiles = new(StringComparer.Ordinal) { "art", "ascii-art" };

    public IReadOnlyList<string> Sentences { get; }

    private SentenceCorpus(IReadOnlyList<string> sentences) => Sentences = sentences;

    /// <summary>Reads every fortune file of a folder (not *.dat, *.u8 or picture files).</summary>
    public static SentenceCorpus Load(string folder, int minLength = 20, int maxLength = 600)
    {
        if (!Directory.Exists(folder)) throw new DirectoryNotFoundException($"The text folder '{folder}' does not exist.");
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var sentences = new List<string>();
        foreach (var file in Directory.GetFiles(folder).OrderBy(f => f, StringComparer.Ordinal))
        {
            var name = Path.GetFileName(file);
            if (name.Contains('.') || PictureFiles.Contains(name)) continue;
            foreach (var entry in Entries(File.ReadLines(file)))
                if (entry.Length >= minLength && entry.Length <= maxLength && IsProse(entry) && seen.Add(entry))
                    sentences.Add(entry);
        }
        return new SentenceCorpus(sentences);
    }

    /// <summary>Disjoint parts of the corpus after a seeded shuffle: the first <paramref name="counts"/>[0]
    /// sentences, the next [1], and so on. Throws when the corpus is too small for them all.</summary>
    public IReadOnlyList<string>[] Split(int seed, params int[] counts)
    {
        long needed = counts.Sum(c => (long)c);
        if (needed > Sentences.Count)
            throw new ArgumentException($"The corpus has {Sentences.Count} sentences; the split asks for {needed}.", nameof(counts));
        var order = Sentences.ToArray();
        new Random(seed).Shuffle(order);
        var parts = new IReadOnlyList<string>[counts.Length];
        int start = 0;
        for (int k = 0; k < counts.Length; k++)
        {
            parts[k] = order[start..(start + counts[k])];
            start += counts[k];
        }
        return parts;
    }

    private static IEnumerable<string> Entries(IEnumerable<string> lines)
    {
        var entry = new StringBuilder();
        foreach (var line in lines)
        {
            if (line.Trim() == "%")
            {
                if (entry.Length > 0) yield return entry.ToString();
                entry.Clear();
                continue;
            }
            foreach (var word in line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries))
            {
                if (entry.Length > 0) entry.Append(' ');
                entry.Append(word);
            }
        }
        if (entry.Length > 0) yield return entry.ToString();
    }

    /// <summary>Mostly letters and spaces: drops tables, code and drawings that slipped into text files.</summary>
    private static bool IsProse(string entry)
    {
        int letters = 0;
        foreach (var c in entry) if (char.IsLetter(c) || c == ' ') letters++;
        return letters >= 0.8 * entry.Length;
    }
}
