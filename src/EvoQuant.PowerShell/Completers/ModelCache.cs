using EvoQuant.Onnx;

namespace EvoQuant.PowerShell.Completers;

/// <summary>Completion runs on every Tab press: keep the last few models, keyed by path, size and time.</summary>
internal static class ModelCache
{
    private const int Capacity = 4;
    private static readonly object Gate = new();
    private static readonly LinkedList<(string Path, long Length, DateTime Written, OnnxModel Model)> Entries = new();

    public static OnnxModel? Load(string path)
    {
        var info = new FileInfo(path);
        if (!info.Exists) return null;
        lock (Gate)
        {
            for (var node = Entries.First; node != null; node = node.Next)
            {
                var e = node.Value;
                if (e.Path == info.FullName && e.Length == info.Length && e.Written == info.LastWriteTimeUtc)
                {
                    Entries.Remove(node);
                    Entries.AddFirst(node);
                    return e.Model;
                }
            }
        }
        var model = OnnxModel.Load(info.FullName);
        lock (Gate)
        {
            Entries.AddFirst((info.FullName, info.Length, info.LastWriteTimeUtc, model));
            while (Entries.Count > Capacity) Entries.RemoveLast();
        }
        return model;
    }
}
