using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace EvoQuant.Numerics;

/// <summary>Maps values to bin indices; every path (scalar and each vector width) gives the same bin.</summary>
internal interface IBinner
{
    int Bin(float x);
    Vector128<int> Bin(Vector128<float> x);
    Vector256<int> Bin(Vector256<float> x);
    Vector512<int> Bin(Vector512<float> x);
}

/// <summary>The counting loop shared by the histogram kernels and the calibrators' grid histograms.
/// Counting is one load-increment-store per value at a data-dependent address, so what limits it is the
/// core's memory pipeline, not bandwidth. Three things keep that pipeline full:
/// <list type="bullet">
/// <item>Bins are computed a few vectors ahead into a small ring: the increments then load indices whose
/// vector store has long retired (loading lanes of a vector store still in flight stalls on forwarding).</item>
/// <item>Consecutive values go to four counter sets, so runs of one value (the zeros after a ReLU) do not
/// wait on one counter's store-to-load latency.</item>
/// <item>The sets hold 16-bit counters (four sets of 4096 bins = 32 KiB, within L1) folded into the
/// 64-bit totals every <see cref="Block"/> values, before any can overflow.</item>
/// </list></summary>
internal static class HistogramCounter
{
    private const int Sets = 4;

    // Values per fold: each set sees at most a quarter of them, so a 16-bit counter stays below 65536.
    internal const int Block = Sets * 65535 / 64 * 64;

    /// <summary>Adds the bins of <paramref name="x"/> to <paramref name="counts"/>. The binner may return
    /// indices up to <paramref name="slots"/> - 1; those at or past counts.Length (a trash bin for NaN) are
    /// dropped. Returns how many values were dropped.</summary>
    public static long Count<TBinner>(ReadOnlySpan<float> x, Span<long> counts, int slots, TBinner binner)
        where TBinner : struct, IBinner => Count(x, counts, slots, binner, out _, out _);

    /// <summary><see cref="Count{TBinner}(ReadOnlySpan{float}, Span{long}, int, TBinner)"/>, also giving the
    /// smallest and largest value in the same pass (NaN ignored, ±inf count; (+inf, -inf) when there is none).</summary>
    public static long Count<TBinner>(ReadOnlySpan<float> x, Span<long> counts, int slots, TBinner binner, out float min, out float max)
        where TBinner : struct, IBinner
    {
        if (slots < counts.Length) throw new ArgumentOutOfRangeException(nameof(slots));
        (min, max) = (float.PositiveInfinity, float.NegativeInfinity);
        // Short inputs: clearing and folding the sets would cost more than counting directly.
        long dropped = 0;
        if (x.Length < 2 * slots)
        {
            foreach (float v in x)
            {
                (min, max) = (Kernels.MinKeep(v, min), Kernels.MaxKeep(v, max));
                int b = binner.Bin(v);
                if (b < counts.Length) counts[b]++;
                else dropped++;
            }
            return dropped;
        }
        ushort[] rented = ArrayPool<ushort>.Shared.Rent(Sets * slots);
        try
        {
            var sets = rented.AsSpan(0, Sets * slots);
            sets.Clear();
            for (int at = 0; at < x.Length; at += Block)
            {
                CountBlock(x.Slice(at, Math.Min(Block, x.Length - at)), sets, slots, binner, ref min, ref max);
                dropped += Fold(sets, counts, slots);
            }
            return dropped;
        }
        finally
        {
            ArrayPool<ushort>.Shared.Return(rented);
        }
    }

    /// <summary>Adds the four sets into the totals and clears them; returns the count of the dropped slots.</summary>
    private static long Fold(Span<ushort> sets, Span<long> counts, int slots)
    {
        long dropped = 0;
        for (int b = 0; b < slots; b++)
        {
            int n = sets[b] + sets[slots + b] + sets[2 * slots + b] + sets[3 * slots + b];
            if (b < counts.Length) counts[b] += n;
            else dropped += n;
        }
        sets.Clear();
        return dropped;
    }

    private static void CountBlock<TBinner>(ReadOnlySpan<float> x, Span<ushort> sets, int slots, TBinner binner, ref float min, ref float max)
        where TBinner : struct, IBinner
    {
        int done = 0;
        if (Vector512.IsHardwareAccelerated && x.Length >= 4 * 16) done = CountVectors512(x, sets, slots, binner, ref min, ref max);
        else if (Vector256.IsHardwareAccelerated && x.Length >= 4 * 8) done = CountVectors256(x, sets, slots, binner, ref min, ref max);
        else if (Vector128.IsHardwareAccelerated && x.Length >= 4 * 4) done = CountVectors128(x, sets, slots, binner, ref min, ref max);
        // The rest (all of it without SIMD) round-robins over the sets too, so none passes Block / 4 counts.
        for (int i = done; i < x.Length; i++)
        {
            (min, max) = (Kernels.MinKeep(x[i], min), Kernels.MaxKeep(x[i], max));
            sets[(i & 3) * slots + binner.Bin(x[i])]++;
        }
    }

    // One method per width, each fully optimised from the first call: a stackalloc keeps a method out of
    // on-stack replacement, so a few long calls (one 64 MB tensor) would otherwise run unoptimised code;
    // and apart, each width's binner inlines within the JIT's budget.
    // The ring holds 4 vectors of indices: bins of vector j + 3 are stored while vector j is counted.

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int CountVectors512<TBinner>(ReadOnlySpan<float> x, Span<ushort> sets, int slots, TBinner binner, ref float min, ref float max)
        where TBinner : struct, IBinner
    {
        ref float xs = ref MemoryMarshal.GetReference(x);
        ref ushort s0 = ref MemoryMarshal.GetReference(sets);
        Span<int> ring = stackalloc int[4 * 16];
        ref int r = ref MemoryMarshal.GetReference(ring);
        int vectors = x.Length / 16;
        var sets4 = Vector512.Create(0, slots, 2 * slots, 3 * slots, 0, slots, 2 * slots, 3 * slots, 0, slots, 2 * slots, 3 * slots, 0, slots, 2 * slots, 3 * slots);
        var lo = Vector512.Create(min);
        var hi = Vector512.Create(max);
        for (int j = 0; j < 3; j++)
        {
            var v = Vector512.LoadUnsafe(ref xs, (nuint)(16 * j));
            (lo, hi) = (Kernels.MinKeep(v, lo), Kernels.MaxKeep(v, hi));
            (binner.Bin(v) + sets4).StoreUnsafe(ref r, (nuint)(16 * j));
        }
        for (int j = 0; j < vectors; j++)
        {
            if (j + 3 < vectors)
            {
                var v = Vector512.LoadUnsafe(ref xs, (nuint)(16 * (j + 3)));
                (lo, hi) = (Kernels.MinKeep(v, lo), Kernels.MaxKeep(v, hi));
                (binner.Bin(v) + sets4).StoreUnsafe(ref r, (nuint)(16 * ((j + 3) & 3)));
            }
            Increment(ref s0, ref Unsafe.Add(ref r, 16 * (j & 3)), 16);
        }
        for (int k = 0; k < Vector512<float>.Count; k++) (min, max) = (Kernels.MinKeep(lo[k], min), Kernels.MaxKeep(hi[k], max));
        return 16 * vectors;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int CountVectors256<TBinner>(ReadOnlySpan<float> x, Span<ushort> sets, int slots, TBinner binner, ref float min, ref float max)
        where TBinner : struct, IBinner
    {
        ref float xs = ref MemoryMarshal.GetReference(x);
        ref ushort s0 = ref MemoryMarshal.GetReference(sets);
        Span<int> ring = stackalloc int[4 * 8];
        ref int r = ref MemoryMarshal.GetReference(ring);
        int vectors = x.Length / 8;
        var sets4 = Vector256.Create(0, slots, 2 * slots, 3 * slots, 0, slots, 2 * slots, 3 * slots);
        var lo = Vector256.Create(min);
        var hi = Vector256.Create(max);
        for (int j = 0; j < 3; j++)
        {
            var v = Vector256.LoadUnsafe(ref xs, (nuint)(8 * j));
            (lo, hi) = (Kernels.MinKeep(v, lo), Kernels.MaxKeep(v, hi));
            (binner.Bin(v) + sets4).StoreUnsafe(ref r, (nuint)(8 * j));
        }
        for (int j = 0; j < vectors; j++)
        {
            if (j + 3 < vectors)
            {
                var v = Vector256.LoadUnsafe(ref xs, (nuint)(8 * (j + 3)));
                (lo, hi) = (Kernels.MinKeep(v, lo), Kernels.MaxKeep(v, hi));
                (binner.Bin(v) + sets4).StoreUnsafe(ref r, (nuint)(8 * ((j + 3) & 3)));
            }
            Increment(ref s0, ref Unsafe.Add(ref r, 8 * (j & 3)), 8);
        }
        for (int k = 0; k < Vector256<float>.Count; k++) (min, max) = (Kernels.MinKeep(lo[k], min), Kernels.MaxKeep(hi[k], max));
        return 8 * vectors;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int CountVectors128<TBinner>(ReadOnlySpan<float> x, Span<ushort> sets, int slots, TBinner binner, ref float min, ref float max)
        where TBinner : struct, IBinner
    {
        ref float xs = ref MemoryMarshal.GetReference(x);
        ref ushort s0 = ref MemoryMarshal.GetReference(sets);
        Span<int> ring = stackalloc int[4 * 4];
        ref int r = ref MemoryMarshal.GetReference(ring);
        int vectors = x.Length / 4;
        var sets4 = Vector128.Create(0, slots, 2 * slots, 3 * slots);
        var lo = Vector128.Create(min);
        var hi = Vector128.Create(max);
        for (int j = 0; j < 3; j++)
        {
            var v = Vector128.LoadUnsafe(ref xs, (nuint)(4 * j));
            (lo, hi) = (Kernels.MinKeep(v, lo), Kernels.MaxKeep(v, hi));
            (binner.Bin(v) + sets4).StoreUnsafe(ref r, (nuint)(4 * j));
        }
        for (int j = 0; j < vectors; j++)
        {
            if (j + 3 < vectors)
            {
                var v = Vector128.LoadUnsafe(ref xs, (nuint)(4 * (j + 3)));
                (lo, hi) = (Kernels.MinKeep(v, lo), Kernels.MaxKeep(v, hi));
                (binner.Bin(v) + sets4).StoreUnsafe(ref r, (nuint)(4 * ((j + 3) & 3)));
            }
            Increment(ref s0, ref Unsafe.Add(ref r, 4 * (j & 3)), 4);
        }
        for (int k = 0; k < Vector128<float>.Count; k++) (min, max) = (Kernels.MinKeep(lo[k], min), Kernels.MaxKeep(hi[k], max));
        return 4 * vectors;
    }

    /// <summary>Counts <paramref name="count"/> (a multiple of 4) slots; the set offset (k mod 4 times the
    /// set length) is already added to each index, so every increment addresses from one base.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Increment(ref ushort s0, ref int idx, int count)
    {
        for (int k = 0; k < count; k += 4)
        {
            Unsafe.Add(ref s0, Unsafe.Add(ref idx, k))++;
            Unsafe.Add(ref s0, Unsafe.Add(ref idx, k + 1))++;
            Unsafe.Add(ref s0, Unsafe.Add(ref idx, k + 2))++;
            Unsafe.Add(ref s0, Unsafe.Add(ref idx, k + 3))++;
        }
    }
}
