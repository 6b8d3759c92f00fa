using System.Diagnostics;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Engines;
using EvoQuant.Calibration;
using EvoQuant.Data;
using EvoQuant.Onnx;
using Microsoft.ML.OnnxRuntime;

namespace EvoQuant.Bench;

/// <summary>Calibration cost against plain float inference of the same samples, streamed from an .npy
/// file in batches of 32, and the process's peak working set (each case runs in its own process, so the
/// peak compares 100 with 1000 samples). Run:
/// <c>dotnet run -c Release --project bench/EvoQuant.Bench -- --filter *CalibrationBenchmarks*</c>
/// Peak working sets are printed as "PEAK-WS ..." lines and appended to $TMPDIR/evoquant-bench-calibration-peak.txt.</summary>
[SimpleJob(RunStrategy.Monitoring, launchCount: 1, warmupCount: 2, iterationCount: 7)]
public class CalibrationBenchmarks
{
    public enum Mode { PlainInference, PlainInferenceNoSpin, PlainInferenceOptimized, MinMax, Entropy2048, Entropy128, Percentile }

    [Params("fashion-cnn")] // add "ocr-rec" for the PaddleOCR recognizer (slow: minutes per case)
    public string Model { get; set; } = "fashion-cnn";

    [Params(100, 1000)]
    public int Samples { get; set; }

    [ParamsAllValues]
    public Mode Method { get; set; }

    private OnnxModel _model = null!;
    private string _data = null!;
    private InferenceSession? _plain;
    private CalibrationRun? _run;
    private readonly RunOptions _runOptions = new();
    private const int BatchSize = 32;

    [GlobalSetup]
    public void Setup()
    {
        string root = BenchFiles.Root;
        _data = Path.Combine(Path.GetTempPath(), $"evoquant-bench-{Model}-{Samples}-{Environment.ProcessId}.npy");
        if (Model == "fashion-cnn")
        {
            _model = OnnxModel.Load(Path.Combine(root, "..", "shared", "models", "fashion-cnn.onnx"));
            var x = NpyReader.ReadRows(Path.Combine(root, "..", "shared", "models", "fashion-test-2000.x.npy"), Samples).First();
            NpyWriter.Write(_data, x);
        }
        else
        {
            // PaddleOCR recognizer, [N,3,48,W]: a fixed width of 320 and a deterministic text-line-like pattern.
            _model = OnnxModel.Load(Path.Combine(root, ".testdata", "npm", "ocr-models", "assets", "ch_PP-OCRv4_rec_infer.onnx"));
            int n = Samples / 10; // the recognizer is ~100x heavier per sample: keep runs short, same 1:10 ratio
            var data = new float[n * 3 * 48 * 320];
            var r = new Random(1);
            for (int i = 0; i < data.Length; i++) data[i] = (float)(Math.Sin(i * 0.013) * 0.8 + r.NextDouble() * 0.2);
            NpyWriter.Write(_data, new NamedTensor(null, data, new long[] { n, 3, 48, 320 }));
        }
    }

    // Session creation is excluded from both sides (it is ~0.01-0.15 s and would bias the small runs):
    // each iteration gets a fresh session (plain) or a fresh CalibrationRun (which creates its session).
    [IterationSetup]
    public void CreateSession()
    {
        if (Method is Mode.PlainInference or Mode.PlainInferenceNoSpin or Mode.PlainInferenceOptimized)
        {
            using var o = new SessionOptions
            {
                GraphOptimizationLevel = Method == Mode.PlainInferenceOptimized ? GraphOptimizationLevel.ORT_ENABLE_ALL : GraphOptimizationLevel.ORT_DISABLE_ALL,
            };
            // Calibration sessions turn ORT's spinning workers off (the calibrators need the cores between
            // runs); the no-spin baseline runs inference with the same thread settings.
            if (Method == Mode.PlainInferenceNoSpin) o.AddSessionConfigEntry("session.intra_op.allow_spinning", "0");
            _plain = new InferenceSession(_model.ToBytes(), o);
            return;
        }
        var options = new CalibrationOptions
        {
            BatchSize = BatchSize,
            Method = Method switch { Mode.MinMax => CalibrationMethod.MinMax, Mode.Percentile => CalibrationMethod.Percentile, _ => CalibrationMethod.Entropy },
            Bins = Method == Mode.Entropy2048 ? 2048 : 0,
        };
        _run = new CalibrationRun(_model, options);
    }

    [IterationCleanup]
    public void DisposeSession()
    {
        _plain?.Dispose();
        _plain = null;
        _run?.Dispose();
        _run = null;
    }

    [Benchmark]
    public long Run()
    {
        if (_plain != null)
        {
            long rows = 0;
            string input = _model.Inputs[0].Name;
            foreach (var chunk in NpyReader.ReadRows(_data, BatchSize))
            {
                using var v = chunk.ToOrtValue();
                using var outputs = _plain.Run(_runOptions, new[] { input }, new[] { v }, _plain.OutputNames);
                rows += chunk.Rows;
            }
            return rows;
        }
        _run!.Add(_data);
        return _run.Complete().SampleCount;
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        File.Delete(_data);
        long peak = Process.GetCurrentProcess().PeakWorkingSet64;
        string line = $"PEAK-WS model={Model} samples={Samples} method={Method} peakMiB={peak / (1024.0 * 1024):F1}";
        Console.WriteLine(line);
        File.AppendAllText(Path.Combine(Path.GetTempPath(), "evoquant-bench-calibration-peak.txt"), line + Environment.NewLine);
    }
}
