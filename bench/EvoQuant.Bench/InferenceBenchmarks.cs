using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using EvoQuant.Calibration;
using EvoQuant.Data;
using EvoQuant.Onnx;
using EvoQuant.Quantization;
using Microsoft.ML.OnnxRuntime;

namespace EvoQuant.Bench;

/// <summary>
/// ONNX Runtime inference of the Fashion-MNIST CNN on a batch of 64 test images, one thread: the float
/// model beside the same model quantized (int8 weights per channel, MinMax ranges of the 200 calibration
/// images) to QDQ and to QOperator, with uint8 activations (the fast path of ORT's x86 QLinearConv) and
/// with int8 activations. The quantized models are built here by ModelQuantizer; nothing is committed.
/// </summary>
[Config(typeof(InferenceConfig))]
[MedianColumn]
public class InferenceBenchmarks
{
    public const int Batch = 64;

    private sealed class InferenceConfig : ManualConfig
    {
        public InferenceConfig() =>
            AddJob(Job.Default.WithToolchain(InProcessEmitToolchain.Instance).WithWarmupCount(5).WithIterationCount(30).WithLaunchCount(1));
    }

    private InferenceSession _float = null!, _qdqU8 = null!, _qopU8 = null!, _qdqS8 = null!, _qopS8 = null!;
    private OrtValue _x = null!, _y = null!;
    private RunOptions _run = null!;
    private readonly string[] _in = { "input" }, _out = { "logits" };

    [GlobalSetup]
    public void Setup()
    {
        var m = BuildModels();
        Console.WriteLine($"// model bytes: float {m.Float.ToBytes().Length}, QDQ {m.QdqU8.ToBytes().Length}, QOperator {m.QOperatorU8.ToBytes().Length}");

        var options = new SessionOptions { IntraOpNumThreads = 1, InterOpNumThreads = 1, ExecutionMode = ExecutionMode.ORT_SEQUENTIAL };
        _float = new InferenceSession(m.Float.ToBytes(), options);
        _qdqU8 = new InferenceSession(m.QdqU8.ToBytes(), options);
        _qopU8 = new InferenceSession(m.QOperatorU8.ToBytes(), options);
        _qdqS8 = new InferenceSession(m.QdqS8.ToBytes(), options);
        _qopS8 = new InferenceSession(m.QOperatorS8.ToBytes(), options);

        var all = (float[])NpyReader.Read(Path.Combine(SharedModels, "fashion-test-2000.x.npy")).Data;
        var x = all.AsSpan(0, Batch * 28 * 28).ToArray();
        _x = OrtValue.CreateTensorValueFromMemory(x, new long[] { Batch, 1, 28, 28 });
        _y = OrtValue.CreateTensorValueFromMemory(new float[Batch * 10], new long[] { Batch, 10 });
        _run = new RunOptions();
    }

    /// <summary>The float model and its QDQ and QOperator versions (int8 weights per channel, MinMax
    /// calibration) with uint8 and int8 activations.</summary>
    public static (OnnxModel Float, OnnxModel QdqU8, OnnxModel QOperatorU8, OnnxModel QdqS8, OnnxModel QOperatorS8) BuildModels()
    {
        var model = OnnxModel.Load(Path.Combine(SharedModels, "fashion-cnn.onnx"));
        var table = Calibrator.Run(model, new object[] { Path.Combine(SharedModels, "fashion-calib-200.x.npy") }, new CalibrationOptions());
        var ranges = table.Ranges.ToDictionary(r => r.Tensor, r => new ActivationRange(r.RangeMin, r.RangeMax));
        var s8 = QuantizationOptions.Static(ranges) with { PerChannel = true };
        var u8 = s8 with { ActivationType = Numerics.QuantType.UInt8 };
        OnnxModel Q(QuantizationOptions o) => ModelQuantizer.Quantize(model, o).Model;
        return (model, Q(u8), Q(u8 with { Format = QuantFormat.QOperator }), Q(s8), Q(s8 with { Format = QuantFormat.QOperator }));
    }

    public static string SharedModels => BenchFiles.SharedModels;

    [GlobalCleanup]
    public void Cleanup()
    {
        _float.Dispose();
        foreach (var s in new[] { _qdqU8, _qopU8, _qdqS8, _qopS8 }) s.Dispose();
        _x.Dispose();
        _y.Dispose();
        _run.Dispose();
    }

    [Benchmark(Baseline = true, Description = "float32")]
    public void Float() => _float.Run(_run, _in, new[] { _x }, _out, new[] { _y });

    [Benchmark(Description = "QDQ, uint8 activations")]
    public void QdqU8() => _qdqU8.Run(_run, _in, new[] { _x }, _out, new[] { _y });

    [Benchmark(Description = "QOperator, uint8 activations")]
    public void QOperatorU8() => _qopU8.Run(_run, _in, new[] { _x }, _out, new[] { _y });

    [Benchmark(Description = "QDQ, int8 activations")]
    public void QdqS8() => _qdqS8.Run(_run, _in, new[] { _x }, _out, new[] { _y });

    [Benchmark(Description = "QOperator, int8 activations")]
    public void QOperatorS8() => _qopS8.Run(_run, _in, new[] { _x }, _out, new[] { _y });
}
