using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace EvoQuant.Numerics;

public static partial class Kernels
{
    // Shared span drivers. Widest path first (512, 256, 128 bits, each only when accelerated), main loop
    // unrolled 4 vectors deep, then single vectors, then one last vector overlapping the previous one
    // instead of a scalar tail: recomputing an element from the same input writes the same output.
    // Inputs shorter than one vector of the chosen width fall through to narrower paths and finally a
    // scalar loop (the whole story when hardware intrinsics are disabled).
    // Outputs larger than the caches are written with aligned non-temporal stores when AVX-512 is there:
    // they skip the read-for-ownership of each destination line (1 of the 6 bytes an int8 element would
    // otherwise move) and do not evict the input from the caches.

    /// <summary>Elements from which the non-temporal path pays off (the output no longer fits in L2).</summary>
    internal const int NonTemporalThreshold = 1 << 20;

    /// <summary>Quantizes <paramref name="x"/> into <paramref name="y"/> through <typeparamref name="TOp"/>.</summary>
    private static void FloatToInt<TOp, T, TStore>(ReadOnlySpan<float> x, Span<T> y, TOp op)
        where TOp : struct, IFloatToIntOperator
        where T : unmanaged
        where TStore : struct, IQuantStorage<T>
    {
        nuint n = (nuint)x.Length;
        ref float xs = ref MemoryMarshal.GetReference(x);
        ref T ys = ref MemoryMarshal.GetReference(y);
        nuint i = 0;

        if (Vector512.IsHardwareAccelerated && n >= (nuint)Vector512<float>.Count)
        {
            nuint w = (nuint)Vector512<float>.Count;
            if (Avx512F.IsSupported && n >= NonTemporalThreshold)
                i = FloatToIntNonTemporal<TOp, T, TStore>(ref xs, ref ys, n, op);
            for (; i + 4 * w <= n; i += 4 * w)
            {
                var a = op.Invoke(Vector512.LoadUnsafe(ref xs, i));
                var b = op.Invoke(Vector512.LoadUnsafe(ref xs, i + w));
                var c = op.Invoke(Vector512.LoadUnsafe(ref xs, i + 2 * w));
                var d = op.Invoke(Vector512.LoadUnsafe(ref xs, i + 3 * w));
                TStore.Store(a, ref Unsafe.Add(ref ys, i));
                TStore.Store(b, ref Unsafe.Add(ref ys, i + w));
                TStore.Store(c, ref Unsafe.Add(ref ys, i + 2 * w));
                TStore.Store(d, ref Unsafe.Add(ref ys, i + 3 * w));
            }
            for (; i + w <= n; i += w)
                TStore.Store(op.Invoke(Vector512.LoadUnsafe(ref xs, i)), ref Unsafe.Add(ref ys, i));
            if (i < n)
                TStore.Store(op.Invoke(Vector512.LoadUnsafe(ref xs, n - w)), ref Unsafe.Add(ref ys, n - w));
            return;
        }

        if (Vector256.IsHardwareAccelerated && n >= (nuint)Vector256<float>.Count)
        {
            nuint w = (nuint)Vector256<float>.Count;
            for (; i + 4 * w <= n; i += 4 * w)
            {
                var a = op.Invoke(Vector256.LoadUnsafe(ref xs, i));
                var b = op.Invoke(Vector256.LoadUnsafe(ref xs, i + w));
                var c = op.Invoke(Vector256.LoadUnsafe(ref xs, i + 2 * w));
                var d = op.Invoke(Vector256.LoadUnsafe(ref xs, i + 3 * w));
                TStore.Store(a, ref Unsafe.Add(ref ys, i));
                TStore.Store(b, ref Unsafe.Add(ref ys, i + w));
                TStore.Store(c, ref Unsafe.Add(ref ys, i + 2 * w));
                TStore.Store(d, ref Unsafe.Add(ref ys, i + 3 * w));
            }
            for (; i + w <= n; i += w)
                TStore.Store(op.Invoke(Vector256.LoadUnsafe(ref xs, i)), ref Unsafe.Add(ref ys, i));
            if (i < n)
                TStore.Store(op.Invoke(Vector256.LoadUnsafe(ref xs, n - w)), ref Unsafe.Add(ref ys, n - w));
            return;
        }

        if (Vector128.IsHardwareAccelerated && n >= (nuint)Vector128<float>.Count)
        {
            nuint w = (nuint)Vector128<float>.Count;
            for (; i + 4 * w <= n; i += 4 * w)
            {
                var a = op.Invoke(Vector128.LoadUnsafe(ref xs, i));
                var b = op.Invoke(Vector128.LoadUnsafe(ref xs, i + w));
                var c = op.Invoke(Vector128.LoadUnsafe(ref xs, i + 2 * w));
                var d = op.Invoke(Vector128.LoadUnsafe(ref xs, i + 3 * w));
                TStore.Store(a, ref Unsafe.Add(ref ys, i));
                TStore.Store(b, ref Unsafe.Add(ref ys, i + w));
                TStore.Store(c, ref Unsafe.Add(ref ys, i + 2 * w));
                TStore.Store(d, ref Unsafe.Add(ref ys, i + 3 * w));
            }
            for (; i + w <= n; i += w)
                TStore.Store(op.Invoke(Vector128.LoadUnsafe(ref xs, i)), ref Unsafe.Add(ref ys, i));
            if (i < n)
                TStore.Store(op.Invoke(Vector128.LoadUnsafe(ref xs, n - w)), ref Unsafe.Add(ref ys, n - w));
            return;
        }

        for (; i < n; i++)
            Unsafe.Add(ref ys, i) = TStore.FromInt(op.Invoke(Unsafe.Add(ref xs, i)));
    }

    /// <summary>Dequantizes <paramref name="y"/> into <paramref name="x"/> through <typeparamref name="TOp"/>.</summary>
    private static void IntToFloat<TOp, T, TStore>(ReadOnlySpan<T> y, Span<float> x, TOp op)
        where TOp : struct, IIntToFloatOperator
        where T : unmanaged
        where TStore : struct, IQuantStorage<T>
    {
        nuint n = (nuint)y.Length;
        ref T ys = ref MemoryMarshal.GetReference(y);
        ref float xs = ref MemoryMarshal.GetReference(x);
        nuint i = 0;

        if (Vector512.IsHardwareAccelerated && n >= (nuint)Vector512<float>.Count)
        {
            nuint w = (nuint)Vector512<float>.Count;
            if (Avx512F.IsSupported && n >= NonTemporalThreshold)
                i = IntToFloatNonTemporal<TOp, T, TStore>(ref ys, ref xs, n, op);
            for (; i + 4 * w <= n; i += 4 * w)
            {
                var a = op.Invoke(TStore.Load512(ref Unsafe.Add(ref ys, i)));
                var b = op.Invoke(TStore.Load512(ref Unsafe.Add(ref ys, i + w)));
                var c = op.Invoke(TStore.Load512(ref Unsafe.Add(ref ys, i + 2 * w)));
                var d = op.Invoke(TStore.Load512(ref Unsafe.Add(ref ys, i + 3 * w)));
                a.StoreUnsafe(ref xs, i);
                b.StoreUnsafe(ref xs, i + w);
                c.StoreUnsafe(ref xs, i + 2 * w);
                d.StoreUnsafe(ref xs, i + 3 * w);
            }
            for (; i + w <= n; i += w)
                op.Invoke(TStore.Load512(ref Unsafe.Add(ref ys, i))).StoreUnsafe(ref xs, i);
            if (i < n)
                op.Invoke(TStore.Load512(ref Unsafe.Add(ref ys, n - w))).StoreUnsafe(ref xs, n - w);
            return;
        }

        if (Vector256.IsHardwareAccelerated && n >= (nuint)Vector256<float>.Count)
        {
            nuint w = (nuint)Vector256<float>.Count;
            for (; i + 4 * w <= n; i += 4 * w)
            {
                var a = op.Invoke(TStore.Load256(ref Unsafe.Add(ref ys, i)));
                var b = op.Invoke(TStore.Load256(ref Unsafe.Add(ref ys, i + w)));
                var c = op.Invoke(TStore.Load256(ref Unsafe.Add(ref ys, i + 2 * w)));
                var d = op.Invoke(TStore.Load256(ref Unsafe.Add(ref ys, i + 3 * w)));
                a.StoreUnsafe(ref xs, i);
                b.StoreUnsafe(ref xs, i + w);
                c.StoreUnsafe(ref xs, i + 2 * w);
                d.StoreUnsafe(ref xs, i + 3 * w);
            }
            for (; i + w <= n; i += w)
                op.Invoke(TStore.Load256(ref Unsafe.Add(ref ys, i))).StoreUnsafe(ref xs, i);
            if (i < n)
                op.Invoke(TStore.Load256(ref Unsafe.Add(ref ys, n - w))).StoreUnsafe(ref xs, n - w);
            return;
        }

        if (Vector128.IsHardwareAccelerated && n >= (nuint)Vector128<float>.Count)
        {
            nuint w = (nuint)Vector128<float>.Count;
            for (; i + w <= n; i += w)
                op.Invoke(TStore.Load128(ref Unsafe.Add(ref ys, i))).StoreUnsafe(ref xs, i);
            if (i < n)
                op.Invoke(TStore.Load128(ref Unsafe.Add(ref ys, n - w))).StoreUnsafe(ref xs, n - w);
            return;
        }

        for (; i < n; i++)
            Unsafe.Add(ref xs, i) = op.Invoke(TStore.ToInt(Unsafe.Add(ref ys, i)));
    }

    /// <summary>Non-temporal main loop: scalar until the destination is 64-byte aligned, then 64
    /// elements per step. Returns how far it got; the caller finishes the tail.</summary>
    private static unsafe nuint FloatToIntNonTemporal<TOp, T, TStore>(ref float xs, ref T ys, nuint n, TOp op)
        where TOp : struct, IFloatToIntOperator
        where T : unmanaged
        where TStore : struct, IQuantStorage<T>
    {
        const int W = 16;
        nuint i = 0;
        fixed (T* pd = &ys)
        {
            while (((nuint)(pd + i) & 63) != 0)
            {
                pd[i] = TStore.FromInt(op.Invoke(Unsafe.Add(ref xs, i)));
                i++;
            }
            for (; i + 4 * W <= n; i += 4 * W)
            {
                var a = op.Invoke(Vector512.LoadUnsafe(ref xs, i));
                var b = op.Invoke(Vector512.LoadUnsafe(ref xs, i + W));
                var c = op.Invoke(Vector512.LoadUnsafe(ref xs, i + 2 * W));
                var d = op.Invoke(Vector512.LoadUnsafe(ref xs, i + 3 * W));
                TStore.StoreNonTemporal(a, b, c, d, pd + i);
            }
        }
        Sse.StoreFence();   // order the weakly-ordered stores before anything that follows
        return i;
    }

    private static unsafe nuint IntToFloatNonTemporal<TOp, T, TStore>(ref T ys, ref float xs, nuint n, TOp op)
        where TOp : struct, IIntToFloatOperator
        where T : unmanaged
        where TStore : struct, IQuantStorage<T>
    {
        const int W = 16;
        nuint i = 0;
        fixed (float* pd = &xs)
        {
            while (((nuint)(pd + i) & 63) != 0)
            {
                pd[i] = op.Invoke(TStore.ToInt(Unsafe.Add(ref ys, i)));
                i++;
            }
            for (; i + 2 * W <= n; i += 2 * W)
            {
                var a = op.Invoke(TStore.Load512(ref Unsafe.Add(ref ys, i)));
                var b = op.Invoke(TStore.Load512(ref Unsafe.Add(ref ys, i + W)));
                Avx512F.StoreAlignedNonTemporal(pd + i, a);
                Avx512F.StoreAlignedNonTemporal(pd + i + W, b);
            }
        }
        Sse.StoreFence();
        return i;
    }

    /// <summary>Throws when the destination is too short or the two buffers share memory.</summary>
    private static void CheckDestination<TIn, TOut>(ReadOnlySpan<TIn> source, Span<TOut> destination, string destinationName = "destination")
        where TIn : unmanaged where TOut : unmanaged
    {
        if (destination.Length < source.Length)
            throw new ArgumentException($"Destination is too short: {destination.Length} < {source.Length}.", destinationName);
        // Different element sizes: an overlapping write would clobber input not yet read.
        if (MemoryMarshal.AsBytes(source).Overlaps(MemoryMarshal.AsBytes((ReadOnlySpan<TOut>)destination)))
            throw new ArgumentException("Source and destination must not overlap.", destinationName);
    }
}
