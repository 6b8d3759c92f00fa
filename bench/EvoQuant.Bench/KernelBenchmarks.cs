using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using EvoQuant.Numerics;
using EvoQuant.Tests.Numerics;
using Microsoft.ML.OnnxRuntime;

namespace EvoQuant.Bench;

/// <summary>
/// Single-thread kernels on 16M-element float32 tensors (64 MB: far beyond the caches, so memory
/// bandwidth is the ceiling), beside a plain copy of the same bytes and ONNX Runtime's own
/// QuantizeLinear / DequantizeLinear through the C# API in the same process.
/// </summary>
[Config(typeof(KernelConfig))]
public class KernelBenchmarks
{
    public const int N = 16 * 1024 * 1024;

    private sealed class KernelConfig : ManualConfig
    {
        public KernelConfig()
        {
            // Short and in-process: the machine has 2 noisy cores shared with others.
            AddJob(Job.Default.WithToolchain(InProcessEmitToolchain.Instance).WithWarmupCount(3).WithIterationCount(8).WithLaunchCount(1));
        }
    }

    private float[] _x = null!, _xOut = null!;
    private sbyte[] _q8 = null!;
    private byte[] _u8 = null!;
    private long[] _hist = null!;
    // The histogram's bound: 4096 precomputed slots (uniform bins of 4 sets of 2049 16-bit counters, as the
    // kernel lays them out), incremented over and over; no values are read or binned.
    private int[] _slots = null!;
    private ushort[] _sets = null!;

    private InferenceSession _ortQ = null!, _ortDq = null!;
    private OrtValue _ortX = null!, _ortQ8 = null!, _ortXOut = null!;
    private RunOptions _runOptions = null!;
    private readonly string[] _in = { "x" }, _out = { "y" };

    private const float Scale = 0.02f;

    [GlobalSetup]
    public void Setup()
    {
        var rng = new Random(1);
        _x = new float[N];
        for (int i = 0; i < N; i++) _x[i] = (float)(rng.NextDouble() * 6 - 3);
        _xOut = new float[N];
        _q8 = new sbyte[N];
        _u8 = new byte[N];
        _hist = new long[2048];
        _slots = new int[4096];
        for (int i = 0; i < _slots.Length; i++) _slots[i] = (i & 3) * 2049 + rng.Next(2048);
        _sets = new ushort[4 * 2049];
        Kernels.Quantize(_x, _q8, Scale, 0);

        var options = new SessionOptions { IntraOpNumThreads = 1, InterOpNumThreads = 1, ExecutionMode = ExecutionMode.ORT_SEQUENTIAL };
        var shape = new long[] { N };
        _ortQ = new InferenceSession(OrtModels.Quantize(21, OrtModels.Int8, shape, new[] { Scale }, new long[] { 0 }), options);
        _ortDq = new InferenceSession(OrtModels.Dequantize(21, OrtModels.Int8, shape, new[] { Scale }, new long[] { 0 }), options);
        // OrtValues over our own arrays: ORT reads and writes them in place, nothing is copied per call.
        _ortX = OrtValue.CreateTensorValueFromMemory(_x, shape);
        _ortQ8 = OrtValue.CreateTensorValueFromMemory(_q8, shape);
        _ortXOut = OrtValue.CreateTensorValueFromMemory(_xOut, shape);
        _runOptions = new RunOptions();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _ortX.Dispose(); _ortQ8.Dispose(); _ortXOut.Dispose();
        _ortQ.Dispose(); _ortDq.Dispose(); _runOptions.Dispose();
    }

    [Benchmark(Baseline = true, Description = "Copy 16M floats (128 MB moved)")]
    public void Copy() => _x.AsSpan().CopyTo(_xOut);

    [Benchmark(Description = "Quantize int8")]
    public void QuantizeInt8() => Kernels.Quantize(_x, _q8, Scale, 0);

    [Benchmark(Description = "Quantize uint8")]
    public void QuantizeUInt8() => Kernels.Quantize(_x, _u8, Scale, 128);

    [Benchmark(Description = "Dequantize int8")]
    public void DequantizeInt8() => Kernels.Dequantize(_q8, _xOut, Scale, 0);

    [Benchmark(Description = "MinMax")]
    public (float, float) MinMax() => Kernels.MinMax(_x);

    [Benchmark(Description = "Histogram 2048 bins")]
    public void Histogram() => Kernels.AccumulateHistogram(_x, _hist, -3f, 3f);

    /// <summary>16M increments alone, indices already in L1: what any scatter histogram costs at least
    /// on this core (16-bit counters wrap harmlessly: they are never read).</summary>
    [Benchmark(Description = "Increments alone (histogram bound)")]
    public void IncrementBound()
    {
        ref ushort sets = ref _sets[0];
        for (int r = 0; r < N / _slots.Length; r++)
            foreach (int slot in _slots) System.Runtime.CompilerServices.Unsafe.Add(ref sets, slot)++;
    }

    [Benchmark(Description = "Abs histogram 2048 bins")]
    public void AbsHistogram() => Kernels.AccumulateAbsHistogram(_x, _hist, 3f);

    [Benchmark(Description = "SQNR")]
    public double Sqnr() => ErrorMetrics.Sqnr(_x, _xOut);

    [Benchmark(Description = "Quantize int8, all cores")]
    public void QuantizeInt8Parallel() => Kernels.QuantizeParallel(_x, _q8, Scale, 0);

    [Benchmark(Description = "Histogram 2048 bins, all cores")]
    public void HistogramParallel() => Kernels.AccumulateHistogramParallel(_x, _hist, -3f, 3f);

    [Benchmark(Description = "ORT QuantizeLinear int8")]
    public void OrtQuantize() => _ortQ.Run(_runOptions, _in, new[] { _ortX }, _out, new[] { _ortQ8 });

    [Benchmark(Description = "ORT DequantizeLinear int8")]
    public void OrtDequantize() => _ortDq.Run(_runOptions, _in, new[] { _ortQ8 }, _out, new[] { _ortXOut });
}
