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
/// model beside the same model quantized (int8, per channel, MinMax ranges of the 200 calibration images)
/// to QDQ and to QOperator. The quantized models are built here by ModelQuantizer; nothing is committed.
/// </summary>
[Config(typeof(InferenceConfig))]
public class InferenceBenchmarks
{
    public const int Batch = 64;

    private sealed class InferenceConfig : ManualConfig
    {
        public InferenceConfig() =>
            AddJob(Job.Default.WithToolchain(InProcessEmitToolchain.Instance).WithWarmupCount(5).WithIterationCount(15).WithLaunchCount(1));
    }

    private InferenceSession _float = null!, _qdq = null!, _qop = null!;
    private OrtValue _x = null!, _y = null!;
    private RunOptions _run = null!;
    private readonly string[] _in = { "input" }, _out = { "logits" };

    /// <summary>Sizes of the three models, for the report.</summary>
    public static (long Float, long Qdq, long QOperator) Sizes { get; private set; }

    [GlobalSetup]
    public void Setup()
    {
        var (model, qdq, qop) = BuildModels();
        Sizes = (model.ToBytes().Length, qdq.ToBytes().Length, qop.ToBytes().Length);
        Console.WriteLine($"// model bytes: float {Sizes.Float}, QDQ {Sizes.Qdq}, QOperator {Sizes.QOperator}");

        var options = new SessionOptions { IntraOpNumThreads = 1, InterOpNumThreads = 1, ExecutionMode = ExecutionMode.ORT_SEQUENTIAL };
        _float = new InferenceSession(model.ToBytes(), options);
        _qdq = new InferenceSession(qdq.ToBytes(), options);
        _qop = new InferenceSession(qop.ToBytes(), options);

        var all = (float[])NpyReader.Read(Path.Combine(SharedModels, "fashion-test-2000.x.npy")).Data;
        var x = all.AsSpan(0, Batch * 28 * 28).ToArray();
        _x = OrtValue.CreateTensorValueFromMemory(x, new long[] { Batch, 1, 28, 28 });
        _y = OrtValue.CreateTensorValueFromMemory(new float[Batch * 10], new long[] { Batch, 10 });
        _run = new RunOptions();
    }

    /// <summary>The float model and its QDQ and QOperator int8 versions (per channel, MinMax calibration).</summary>
    public static (OnnxModel Float, OnnxModel Qdq, OnnxModel QOperator) BuildModels()
    {
        var model = OnnxModel.Load(Path.Combine(SharedModels, "fashion-cnn.onnx"));
        var table = Calibrator.Run(model, new object[] { Path.Combine(SharedModels, "fashion-calib-200.x.npy") }, new CalibrationOptions());
        var ranges = table.Ranges.ToDictionary(r => r.Tensor, r => new ActivationRange(r.RangeMin, r.RangeMax));
        var options = QuantizationOptions.Static(ranges) with { PerChannel = true };
        var qdq = ModelQuantizer.Quantize(model, options).Model;
        var qop = ModelQuantizer.Quantize(model, options with { Format = QuantFormat.QOperator }).Model;
        return (model, qdq, qop);
    }

    public static string SharedModels
    {
        get
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
                if (File.Exists(Path.Combine(dir.FullName, "EvoQuant.psd1")))
                    return Path.GetFullPath(Path.Combine(dir.FullName, "..", "shared", "models"));
            throw new InvalidOperationException("Cannot find the repository root (EvoQuant.psd1).");
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _float.Dispose();
        _qdq.Dispose();
        _qop.Dispose();
        _x.Dispose();
        _y.Dispose();
        _run.Dispose();
    }

    [Benchmark(Baseline = true, Description = "float32")]
    public void Float() => _float.Run(_run, _in, new[] { _x }, _out, new[] { _y });

    [Benchmark(Description = "int8 QDQ (ORT fuses to QLinearConv)")]
    public void Qdq() => _qdq.Run(_run, _in, new[] { _x }, _out, new[] { _y });

    [Benchmark(Description = "int8 QOperator")]
    public void QOperator() => _qop.Run(_run, _in, new[] { _x }, _out, new[] { _y });
}
