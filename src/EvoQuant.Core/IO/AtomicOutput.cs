using System.Diagnostics;

namespace EvoQuant.IO;

/// <summary>Writes one or more output files all-or-nothing: each goes to a temporary file in the target's
/// folder, <see cref="Commit"/> renames them over their targets, and disposing without a commit removes
/// the temporary files and any folder this write created. A reader never sees a half-written file, and a
/// failed write leaves nothing at the output path.
/// Temporary files are named <c>.&lt;name&gt;.evoquant-tmp-&lt;pid&gt;-&lt;random&gt;</c>: a process killed
/// mid-write leaves one behind, and the next write to the same path removes those whose process is gone.</summary>
public sealed class AtomicOutput : IDisposable
{
    public const string TempMarker = ".evoquant-tmp-";

    private readonly List<(string Temp, string Target)> _files = new();
    private readonly List<string> _createdFolders = new();
    private bool _committed;

    /// <summary>A temporary path to write <paramref name="target"/>'s content to (the folder is created
    /// if missing). Throws <see cref="OutputNotWritableException"/> when the folder cannot be made.</summary>
    public string TempFor(string target)
    {
        string full = Path.GetFullPath(target);
        string name = Path.GetFileName(full);
        if (name.Length == 0 || string.IsNullOrWhiteSpace(name))
            throw new OutputNotWritableException(full, new ArgumentException("The output path names no file."));
        string dir = Path.GetDirectoryName(full)!;
        Guard(full, () => CreateFolder(dir));
        SweepStale(dir, name);
        string temp = Path.Combine(dir, "." + name + TempMarker + Environment.ProcessId + "-" + Guid.NewGuid().ToString("N")[..8]);
        _files.Add((temp, full));
        return temp;
    }

    /// <summary>Renames every temporary file over its target, in the order they were asked for (write a
    /// model's data file first, the model that names it last).</summary>
    public void Commit()
    {
        foreach (var (temp, target) in _files)
            Guard(target, () => File.Move(temp, target, overwrite: true));
        _committed = true;
    }

    public void Dispose()
    {
        foreach (var (temp, _) in _files)
        {
            try { if (File.Exists(temp)) File.Delete(temp); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        }
        if (_committed) return;
        for (int i = _createdFolders.Count - 1; i >= 0; i--)
        {
            try { Directory.Delete(_createdFolders[i]); } // only if still empty
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        }
    }

    /// <summary>Runs a file-system step, turning the operating system's refusal into <see cref="OutputNotWritableException"/>.</summary>
    public static void Guard(string target, Action step)
    {
        try { step(); }
        catch (Exception e) when (e is IOException and not OutputNotWritableException or UnauthorizedAccessException or NotSupportedException)
        {
            throw new OutputNotWritableException(target, e);
        }
    }

    /// <summary>Writes one text file atomically.</summary>
    public static void WriteAllText(string target, string text)
    {
        using var output = new AtomicOutput();
        string temp = output.TempFor(target);
        Guard(target, () => File.WriteAllText(temp, text, new System.Text.UTF8Encoding(false)));
        output.Commit();
    }

    private void CreateFolder(string dir)
    {
        // Remember each folder made, outermost first, so a failed write can take them away again.
        var missing = new Stack<string>();
        for (string? d = dir; d != null && !Directory.Exists(d); d = Path.GetDirectoryName(d)) missing.Push(d);
        while (missing.Count > 0)
        {
            string d = missing.Pop();
            Directory.CreateDirectory(d);
            _createdFolders.Add(d);
        }
    }

    /// <summary>Removes temporary files of earlier writes to the same name whose process no longer runs.</summary>
    internal static void SweepStale(string dir, string name)
    {
        string prefix = "." + name + TempMarker;
        IEnumerable<string> stale;
        try { stale = Directory.EnumerateFiles(dir, prefix + "*").ToList(); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return; }
        foreach (string file in stale)
        {
            string fileName = Path.GetFileName(file);
            if (!fileName.StartsWith(prefix, StringComparison.Ordinal)) continue;
            string rest = fileName[prefix.Length..];
            int dash = rest.IndexOf('-');
            if (dash <= 0 || !int.TryParse(rest[..dash], out int pid) || IsRunning(pid)) continue;
            try { File.Delete(file); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        }
    }

    private static bool IsRunning(int pid)
    {
        if (pid == Environment.ProcessId) return true; // a concurrent write of this process
        try
        {
            using var p = Process.GetProcessById(pid);
            return !p.HasExited;
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException) { return false; }
    }
}
