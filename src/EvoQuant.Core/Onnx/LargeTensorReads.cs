namespace EvoQuant.Onnx;

/// <summary>Keeps a pass over a big model's weights bounded in memory. Each weight read from external data
/// is a large array that is garbage once its quantized copy exists; the collector frees the large-object
/// heap only at full collections, whose budget grows with the allocations, so on its own it let dead
/// weights pile up to 1-2x the model (issue 21: 0.81 GB of weights, 1.63 GB peak for dynamic quantization
/// without the ONNX Runtime check). After every <see cref="Budget"/> bytes of large reads a full,
/// non-compacting collection runs: cheap, since a rewrite keeps little alive besides the quantized
/// weights, and the dead arrays go back before the next ones are read.</summary>
internal static class LargeTensorReads
{
    /// <summary>Reads smaller than this are left to the collector's own schedule.</summary>
    private const long Large = 4L * 1024 * 1024;

    /// <summary>Bytes of large reads between two collections.</summary>
    internal const long Budget = 64L * 1024 * 1024;

    private static long _sinceCollection;

    /// <summary>Called before a read of <paramref name="bytes"/> allocates its array.</summary>
    public static void BeforeRead(long bytes)
    {
        if (bytes < Large) return;
        if (Interlocked.Add(ref _sinceCollection, bytes) < Budget) return;
        Collect();
    }

    /// <summary>Returns dead weights to the next reads: a full, non-compacting collection.</summary>
    private static void Collect()
    {
        Interlocked.Exchange(ref _sinceCollection, 0);
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: false);
    }

    /// <summary>Gives the memory of dead weights back to the operating system, not only to the next reads:
    /// before a native consumer (an ONNX Runtime session) allocates beside them, freed regions the collector
    /// keeps committed would still count in the peak. Compacts, so only for rare points, not per read.</summary>
    public static void ReturnToSystem()
    {
        Interlocked.Exchange(ref _sinceCollection, 0);
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
    }
}
