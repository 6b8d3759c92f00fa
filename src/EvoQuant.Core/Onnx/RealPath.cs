namespace EvoQuant.Onnx;

/// <summary>realpath(3) in managed code: a path with every symbolic link (and junction) resolved at every
/// level, '.' and '..' applied physically, as the kernel applies them when the file is opened. A lexical
/// GetFullPath is not enough for a containment check: `sub -> /elsewhere` makes `sub/x` look inside a
/// folder while the bytes come from outside it.</summary>
public static class RealPath
{
    // Linux's own limit (MAXSYMLINKS); a longer chain is a loop or an attack.
    private const int MaxLinks = 40;

    private static readonly StringComparison Comparison =
        OperatingSystem.IsWindows() || OperatingSystem.IsMacOS() ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal;

    /// <summary>The real path of <paramref name="path"/>: it exists, and holds no link, '.' or '..'. Null
    /// when a component does not exist (nothing may then be opened: Windows would fold a '..' after the
    /// missing part lexically). Throws IOException on a link loop.</summary>
    public static string? Resolve(string path)
    {
        int links = 0;
        return Resolve(path, ref links);
    }

    /// <summary>The directory entry a write to <paramref name="path"/> replaces: its folder resolved, its own
    /// name kept (a rename replaces a link, not what it points to). Falls back to the full path.</summary>
    public static string Entry(string path)
    {
        string full = Path.GetFullPath(path);
        string? dir = Path.GetDirectoryName(full);
        if (dir == null) return full;
        try { return Resolve(dir) is string real ? Path.Combine(real, Path.GetFileName(full)) : full; }
        catch (IOException) { return full; }
    }

    /// <summary>Whether two paths name the same entry once their folders are resolved.</summary>
    public static bool SameEntry(string a, string b) => string.Equals(Entry(a), Entry(b), Comparison) || string.Equals(Path.GetFullPath(a), Path.GetFullPath(b), Comparison);

    /// <summary>Whether <paramref name="path"/> (a real path) is inside <paramref name="folder"/> (a real path).</summary>
    public static bool IsInside(string path, string folder)
    {
        string withSep = Path.EndsInDirectorySeparator(folder) ? folder : folder + Path.DirectorySeparatorChar;
        return path.StartsWith(withSep, Comparison);
    }

    private static string? Resolve(string path, ref int links)
    {
        // Rooted before anything else; '..' must not be folded lexically (GetFullPath would), so only the
        // root is taken from the full path and the components are walked as written.
        string rooted = Path.IsPathRooted(path) ? path : Path.Combine(Directory.GetCurrentDirectory(), path);
        string root = Path.GetPathRoot(rooted)!;
        string current = Path.GetFullPath(root);
        var parts = rooted[root.Length..].Split(new[] { Path.DirectorySeparatorChar, Path.AltDirectorySeparatorChar },
            StringSplitOptions.RemoveEmptyEntries);
        for (int i = 0; i < parts.Length; i++)
        {
            string part = parts[i];
            if (part == ".") continue;
            if (part == "..")
            {
                // current is already real, so its parent is the physical parent.
                current = Path.GetDirectoryName(current) ?? current;
                continue;
            }
            string candidate = Path.Combine(current, part);
            string? target = LinkTarget(candidate);
            if (target == null)
            {
                if (!Path.Exists(candidate)) return null;
                current = candidate;
                continue;
            }
            if (++links > MaxLinks)
                throw new IOException($"Too many levels of symbolic links at '{candidate}'.");
            string? resolved = Resolve(Path.IsPathRooted(target) ? target : Path.Combine(current, target), ref links);
            if (resolved == null) return null; // a dangling link
            current = resolved;
        }
        return current;
    }

    private static string? LinkTarget(string path)
    {
        try { return new FileInfo(path).LinkTarget; }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return null; }
    }
}
