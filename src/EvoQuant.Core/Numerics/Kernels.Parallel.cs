namespace EvoQuant.Numerics;

public static partial class Kernels
{
    // Multi-core variants for large tensors: the span is cut into chunks of ParallelChunk elements (a
    // multiple of 64, so chunk starts keep the destination's cache-line alignment) and each chunk runs the
    // single-thread kernel. Below ParallelThreshold elements, or with one core, they are the single-thread
    // kernels. The spans are pinned for the duration and handed to the workers as addresses, because
    // spans cannot be captured by the worker delegates.

    /// <summary>Elements below which the parallel variants stay on the calling thread.</summary>
    public const int ParallelThreshold = 1 << 21;

    // As large as the non-temporal threshold, so each chunk of a big output still bypasses the caches.
    internal const int ParallelChunk = NonTemporalThreshold;

    /// <summary><see cref="Quantize(ReadOnlySpan{float}, Span{sbyte}, float, sbyte)"/> over several cores.</summary>
    /// <remarks><c>maxDegreeOfParallelism</c> bounds the workers (-1: the runtime's default, 1: this thread only).</remarks>
    public static unsafe void QuantizeParallel(ReadOnlySpan<float> x, Span<sbyte> y, float scale, sbyte zeroPoint, int maxDegreeOfParallelism = -1)
    {
        CheckDestination(x, y, nameof(y));
        var op = new QuantizeOperator(scale, zeroPoint, sbyte.MinValue, sbyte.MaxValue);
        if (!UseParallel(x.Length, maxDegreeOfParallelism)) { FloatToInt<QuantizeOperator, sbyte, SByteStorage>(x, y, op); return; }
        fixed (float* px = x)
        fixed (sbyte* py = y)
        {
            nint ax = (nint)px, ay = (nint)py;
            int n = x.Length;
            ForEachChunk(n, maxDegreeOfParallelism, (start, count) =>
                FloatToInt<QuantizeOperator, sbyte, SByteStorage>(new ReadOnlySpan<float>((float*)ax + start, count), new Span<sbyte>((sbyte*)ay + start, count), op));
        }
    }

    /// <summary><see cref="Quantize(ReadOnlySpan{float}, Span{byte}, float, byte)"/> over several cores.</summary>
    /// <remarks><c>maxDegreeOfParallelism</c> bounds the workers (-1: the runtime's default, 1: this thread only).</remarks>
    public static unsafe void QuantizeParallel(ReadOnlySpan<float> x, Span<byte> y, float scale, byte zeroPoint, int maxDegreeOfParallelism = -1)
    {
        CheckDestination(x, y, nameof(y));
        var op = new QuantizeOperator(scale, zeroPoint, byte.MinValue, byte.MaxValue);
        if (!UseParallel(x.Length, maxDegreeOfParallelism)) { FloatToInt<QuantizeOperator, byte, ByteStorage>(x, y, op); return; }
        fixed (float* px = x)
        fixed (byte* py = y)
        {
            nint ax = (nint)px, ay = (nint)py;
            ForEachChunk(x.Length, maxDegreeOfParallelism, (start, count) =>
                FloatToInt<QuantizeOperator, byte, ByteStorage>(new ReadOnlySpan<float>((float*)ax + start, count), new Span<byte>((byte*)ay + start, count), op));
        }
    }

    /// <summary><see cref="Dequantize(ReadOnlySpan{sbyte}, Span{float}, float, sbyte)"/> over several cores.</summary>
    /// <remarks><c>maxDegreeOfParallelism</c> bounds the workers (-1: the runtime's default, 1: this thread only).</remarks>
    public static unsafe void DequantizeParallel(ReadOnlySpan<sbyte> y, Span<float> x, float scale, sbyte zeroPoint, int maxDegreeOfParallelism = -1)
    {
        CheckDestination(y, x, nameof(x));
        var op = new DequantizeOperator(scale, zeroPoint);
        if (!UseParallel(y.Length, maxDegreeOfParallelism)) { IntToFloat<DequantizeOperator, sbyte, SByteStorage>(y, x, op); return; }
        fixed (sbyte* py = y)
        fixed (float* px = x)
        {
            nint ay = (nint)py, ax = (nint)px;
            ForEachChunk(y.Length, maxDegreeOfParallelism, (start, count) =>
                IntToFloat<DequantizeOperator, sbyte, SByteStorage>(new ReadOnlySpan<sbyte>((sbyte*)ay + start, count), new Span<float>((float*)ax + start, count), op));
        }
    }

    /// <summary><see cref="Dequantize(ReadOnlySpan{byte}, Span{float}, float, byte)"/> over several cores.</summary>
    /// <remarks><c>maxDegreeOfParallelism</c> bounds the workers (-1: the runtime's default, 1: this thread only).</remarks>
    public static unsafe void DequantizeParallel(ReadOnlySpan<byte> y, Span<float> x, float scale, byte zeroPoint, int maxDegreeOfParallelism = -1)
    {
        CheckDestination(y, x, nameof(x));
        var op = new DequantizeOperator(scale, zeroPoint);
        if (!UseParallel(y.Length, maxDegreeOfParallelism)) { IntToFloat<DequantizeOperator, byte, ByteStorage>(y, x, op); return; }
        fixed (byte* py = y)
        fixed (float* px = x)
        {
            nint ay = (nint)py, ax = (nint)px;
            ForEachChunk(y.Length, maxDegreeOfParallelism, (start, count) =>
                IntToFloat<DequantizeOperator, byte, ByteStorage>(new ReadOnlySpan<byte>((byte*)ay + start, count), new Span<float>((float*)ax + start, count), op));
        }
    }

    /// <summary><see cref="MinMax"/> over several cores (same NaN policy and result).</summary>
    /// <remarks><c>maxDegreeOfParallelism</c> bounds the workers (-1: the runtime's default, 1: this thread only).</remarks>
    public static unsafe (float Min, float Max) MinMaxParallel(ReadOnlySpan<float> x, int maxDegreeOfParallelism = -1)
    {
        if (!UseParallel(x.Length, maxDegreeOfParallelism)) return MinMax(x);
        int chunks = ChunkCount(x.Length);
        var mins = new float[chunks];
        var maxs = new float[chunks];
        fixed (float* px = x)
        {
            nint ax = (nint)px;
            ForEachChunk(x.Length, maxDegreeOfParallelism, (start, count) =>
            {
                var (mn, mx) = MinMax(new ReadOnlySpan<float>((float*)ax + start, count));
                mins[start / ParallelChunk] = mn;
                maxs[start / ParallelChunk] = mx;
            });
        }
        // Chunk results are NaN only when the chunk had no number: the NaN-ignoring min/max handle that.
        var (lo, _) = MinMax(mins);
        var (_, hi) = MinMax(maxs);
        return (lo, hi);
    }

    /// <summary><see cref="AccumulateHistogram"/> over several cores: a private histogram per chunk, summed.</summary>
    /// <remarks><c>maxDegreeOfParallelism</c> bounds the workers (-1: the runtime's default, 1: this thread only).</remarks>
    public static unsafe void AccumulateHistogramParallel(ReadOnlySpan<float> x, Span<long> counts, float lo, float hi, int maxDegreeOfParallelism = -1)
    {
        if (!UseParallel(x.Length, maxDegreeOfParallelism)) { AccumulateHistogram(x, counts, lo, hi); return; }
        // Validate once up front so that a bad argument throws here and not inside a worker.
        AccumulateHistogram(ReadOnlySpan<float>.Empty, counts, lo, hi);
        int bins = counts.Length;
        var total = new long[bins];
        var gate = new object();
        fixed (float* px = x)
        {
            nint ax = (nint)px;
            ForEachChunk(x.Length, maxDegreeOfParallelism, (start, count) =>
            {
                var local = new long[bins];
                AccumulateHistogram(new ReadOnlySpan<float>((float*)ax + start, count), local, lo, hi);
                lock (gate)
                    for (int b = 0; b < bins; b++) total[b] += local[b];
            });
        }
        for (int b = 0; b < bins; b++) counts[b] += total[b];
    }

    /// <summary><see cref="AccumulateAbsHistogram"/> over several cores.</summary>
    /// <remarks><c>maxDegreeOfParallelism</c> bounds the workers (-1: the runtime's default, 1: this thread only).</remarks>
    public static unsafe void AccumulateAbsHistogramParallel(ReadOnlySpan<float> x, Span<long> counts, float hi, int maxDegreeOfParallelism = -1)
    {
        if (!UseParallel(x.Length, maxDegreeOfParallelism)) { AccumulateAbsHistogram(x, counts, hi); return; }
        AccumulateAbsHistogram(ReadOnlySpan<float>.Empty, counts, hi);
        int bins = counts.Length;
        var total = new long[bins];
        var gate = new object();
        fixed (float* px = x)
        {
            nint ax = (nint)px;
            ForEachChunk(x.Length, maxDegreeOfParallelism, (start, count) =>
            {
                var local = new long[bins];
                AccumulateAbsHistogram(new ReadOnlySpan<float>((float*)ax + start, count), local, hi);
                lock (gate)
                    for (int b = 0; b < bins; b++) total[b] += local[b];
            });
        }
        for (int b = 0; b < bins; b++) counts[b] += total[b];
    }

    private static bool UseParallel(int length, int maxDegreeOfParallelism) =>
        length >= ParallelThreshold && maxDegreeOfParallelism != 1 && Environment.ProcessorCount > 1;

    private static int ChunkCount(int length) => (int)(((long)length + ParallelChunk - 1) / ParallelChunk);

    private static void ForEachChunk(int length, int maxDegreeOfParallelism, Action<int, int> body)
    {
        var options = new ParallelOptions { MaxDegreeOfParallelism = maxDegreeOfParallelism };
        Parallel.For(0, ChunkCount(length), options, chunk =>
        {
            int start = chunk * ParallelChunk;
            body(start, Math.Min(ParallelChunk, length - start));
        });
    }
}
