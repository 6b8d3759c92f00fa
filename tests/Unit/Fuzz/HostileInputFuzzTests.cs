using System.Security.Cryptography;
using EvoQuant.Calibration;
using EvoQuant.Onnx;
using EvoQuant.Onnx.Proto;
using EvoQuant.Quantization;
using EvoQuant.Tests.Support;
using Google.Protobuf;
using Xunit;

namespace EvoQuant.Tests.Fuzz;

/// <summary>Issue 16's campaign, small and repeatable: fixed seeds and fixed counts (a few seconds), real
/// files in a temp folder. Every failure must be one of EvoQuant's typed exceptions (or an error record with
/// a cmdlet-prefixed ErrorId), no input may change, no byte outside the model's real folder may be read,
/// and nothing invalid or partial may be left at an output path.</summary>
public sealed class HostileInputFuzzTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("evoquant-fuzz").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    private static string Hash(string path) => Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(path)));

    /// <summary>A mutant of <paramref name="original"/>: byte flips, random bytes, a truncation, or a run
    /// of 0xFF (huge varints: lengths and dims).</summary>
    private static byte[] Mutate(byte[] original, Random rng)
    {
        byte[] bytes = (byte[])original.Clone();
        int mutations = rng.Next(1, 6);
        for (int k = 0; k < mutations && bytes.Length > 1; k++)
        {
            int at = rng.Next(bytes.Length);
            switch (rng.Next(4))
            {
                case 0: bytes[at] ^= (byte)(1 << rng.Next(8)); break;
                case 1: bytes[at] = (byte)rng.Next(256); break;
                case 2: bytes = bytes[..Math.Max(1, at)]; break;
                default:
                    for (int i = at; i < Math.Min(bytes.Length, at + rng.Next(1, 10)); i++) bytes[i] = 0xFF;
                    break;
            }
        }
        return bytes;
    }

    // EvoQuant's own exception types: what Core may throw for bad input.
    private static bool IsOurs(Exception e) =>
        e is OnnxModelException or QuantizationException or EvoQuant.IO.OutputNotWritableException or ModelRunException
            or SampleMismatchException or EvoQuant.Data.SampleFormatException;

    [Fact]
    public void MutantsOfARealModelLoadSaveAndQuantizeOrFailWithOurExceptions()
    {
        string source = TestData.Require(TestData.FashionCnn);
        string before = Hash(source);
        byte[] original = File.ReadAllBytes(source);
        var rng = new Random(16);
        int loaded = 0, refused = 0, quantized = 0;
        var bare = new List<string>();
        for (int trial = 0; trial < 150; trial++)
        {
            string input = Path.Combine(_dir, $"m{trial}.onnx");
            File.WriteAllBytes(input, Mutate(original, rng));
            string inputHash = Hash(input);
            string output = Path.Combine(_dir, $"out{trial}.onnx");
            try
            {
                var m = OnnxModel.Load(input);
                loaded++;
                foreach (var t in m.Proto.Graph.Initializer.Where(t => t.DataType == ElementTypes.Float)) _ = m.GetFloats(t);
                // Only a few go through ONNX Runtime: enough to cover the path, bounded in time.
                if (quantized < 12)
                {
                    quantized++;
                    var result = ModelQuantizer.Quantize(m, QuantizationOptions.Dynamic());
                    result.Model.Save(output);
                    _ = OnnxModel.Load(output); // what was written loads
                }
            }
            catch (Exception e) when (IsOurs(e))
            {
                refused++;
                Assert.False(File.Exists(output), $"trial {trial}: {e.GetType().Name} but '{output}' was left behind");
            }
            catch (Exception e)
            {
                bare.Add($"trial {trial}: {e.GetType().FullName}: {e.Message}");
            }
            Assert.Equal(inputHash, Hash(input));
        }
        Assert.True(bare.Count == 0, string.Join("\n", bare));
        Assert.True(loaded > 0 && refused > 0, $"loaded {loaded}, refused {refused}: the mutants do not cover both outcomes");
        Assert.Empty(Directory.GetFiles(_dir, ".*")); // no temporary file left
        Assert.Equal(before, Hash(source));
    }

    [Fact]
    public void RandomExternalDataLocationsNeverReadOutsideTheModelsRealFolder()
    {
        // Layout: model/ holds w.bin (the real weight) and links; outside/ holds SECRET.bin filled with 0xEE.
        string modelDir = Directory.CreateDirectory(Path.Combine(_dir, "model")).FullName;
        string outside = Directory.CreateDirectory(Path.Combine(_dir, "outside")).FullName;
        var proto = ModelProto.Parser.ParseFrom(File.ReadAllBytes(TestData.Require(TestData.FashionCnn)));
        var weight = proto.Graph.Initializer.First(t => t.Dims.Count == 4);
        byte[] real = weight.RawData.ToByteArray();
        byte[] secret = Enumerable.Repeat((byte)0xEE, real.Length * 2).ToArray();
        File.WriteAllBytes(Path.Combine(outside, "SECRET.bin"), secret);
        File.WriteAllBytes(Path.Combine(modelDir, "w.bin"), real);
        Directory.CreateDirectory(Path.Combine(modelDir, "sub"));
        File.WriteAllBytes(Path.Combine(modelDir, "sub", "w.bin"), real);
        Directory.CreateSymbolicLink(Path.Combine(modelDir, "out"), outside);
        Directory.CreateSymbolicLink(Path.Combine(modelDir, "in"), "sub");
        Directory.CreateSymbolicLink(Path.Combine(modelDir, "sub", "up"), "..");
        Directory.CreateSymbolicLink(Path.Combine(modelDir, "sub", "up2"), "../..");
        File.CreateSymbolicLink(Path.Combine(modelDir, "secret.bin"), Path.Combine(outside, "SECRET.bin"));
        File.CreateSymbolicLink(Path.Combine(modelDir, "alias.bin"), "sub/w.bin");
        string secretHash = Hash(Path.Combine(outside, "SECRET.bin"));

        string[] parts = { "..", ".", "sub", "in", "out", "up", "up2", "model", "outside" };
        string[] files = { "w.bin", "SECRET.bin", "secret.bin", "alias.bin" };
        long[] offsets = { 0, 0, 0, 1, real.Length, long.MaxValue, long.MaxValue - real.Length + 1, 1L << 62 };
        var rng = new Random(1616);
        int allowed = 0, refusedOutside = 0, refusedOther = 0;
        for (int trial = 0; trial < 300; trial++)
        {
            var path = Enumerable.Range(0, rng.Next(0, 4)).Select(_ => parts[rng.Next(parts.Length)]).Append(files[rng.Next(files.Length)]);
            string location = string.Join(rng.Next(5) == 0 ? "//" : "/", path);
            long offset = offsets[rng.Next(offsets.Length)];
            var p = proto.Clone();
            var w = p.Graph.Initializer.First(t => t.Name == weight.Name);
            w.ClearRawData();
            w.DataLocation = TensorProto.Types.DataLocation.External;
            w.ExternalData.Add(new StringStringEntryProto { Key = "location", Value = location });
            w.ExternalData.Add(new StringStringEntryProto { Key = "offset", Value = offset.ToString() });
            w.ExternalData.Add(new StringStringEntryProto { Key = "length", Value = real.Length.ToString() });
            string model = Path.Combine(modelDir, "m.onnx");
            File.WriteAllBytes(model, p.ToByteArray());
            try
            {
                var m = OnnxModel.Load(model);
                byte[] read = m.GetRawBytes(m.Proto.Graph.Initializer.First(t => t.Name == weight.Name));
                // Every allowed location leads to one of the model folder's copies of the weight.
                Assert.True(read.AsSpan().SequenceEqual(real), $"'{location}' @ {offset} read bytes that are not the model's own");
                allowed++;
            }
            catch (OnnxModelException e)
            {
                if (e.Kind == ModelErrorKind.ExternalDataOutsideFolder) refusedOutside++; else refusedOther++;
                Assert.True(e.Kind is ModelErrorKind.ExternalDataOutsideFolder or ModelErrorKind.ExternalDataMissing
                    or ModelErrorKind.ExternalDataOutOfRange or ModelErrorKind.Invalid, $"'{location}' @ {offset}: {e.Kind}");
            }
        }
        Assert.True(allowed > 0 && refusedOutside > 0 && refusedOther > 0, $"allowed {allowed}, outside {refusedOutside}, other {refusedOther}");
        Assert.Equal(secretHash, Hash(Path.Combine(outside, "SECRET.bin")));
    }

    [Fact]
    public void MutatedCalibrationTablesParseToUsableRangesOrAreRefused()
    {
        var ranges = Enumerable.Range(0, 6).Select(i => new TensorRange($"t{i}", CalibrationMethod.MinMax, -i - 1, i + 1, -i - 1, i + 1)).ToList();
        string json = new CalibrationTable(new CalibrationSettings { Method = CalibrationMethod.MinMax }, ranges).ToJson();
        string cache = new CalibrationTable(new CalibrationSettings { Method = CalibrationMethod.MinMax }, ranges).ToCalibrationCache();
        string[] junk = { "NaN", "Infinity", "-Infinity", "3e38", "-3e38", "1e39", "}", "{", "\"", ",", "null", "", " ", "-" };
        var rng = new Random(161616);
        int parsed = 0, refused = 0;
        for (int trial = 0; trial < 400; trial++)
        {
            string text = trial % 2 == 0 ? json : cache;
            for (int k = rng.Next(1, 4); k > 0 && text.Length > 0; k--)
            {
                int at = rng.Next(text.Length);
                text = rng.Next(3) switch
                {
                    0 => text[..at],
                    1 => text[..at] + junk[rng.Next(junk.Length)] + text[Math.Min(text.Length, at + rng.Next(0, 4))..],
                    _ => text.Replace((trial % 2 == 0 ? "\"rangeMin\": " : " ") + rng.Next(1, 7), (trial % 2 == 0 ? "\"rangeMin\": " : " ") + junk[rng.Next(6)]),
                };
            }
            try
            {
                var t = CalibrationTable.Parse(text);
                Assert.All(t.Ranges, r => Assert.True(float.IsFinite(r.RangeMin) && float.IsFinite(r.RangeMax) && r.RangeMin <= r.RangeMax
                    && float.IsFinite(r.RangeMax - r.RangeMin), $"trial {trial} accepted {r}"));
                parsed++;
            }
            catch (FormatException) { refused++; }
        }
        Assert.True(parsed > 0 && refused > 0, $"parsed {parsed}, refused {refused}");
    }

    [Fact]
    public void MutantsThroughTheCmdletsGiveSpecificErrorIdsAndLeaveInputsAlone()
    {
        using var ps = new PowerShellSession();
        byte[] original = File.ReadAllBytes(TestData.Require(TestData.FashionCnn));
        string calib = Path.Combine(_dir, "calib.npy");
        File.Copy(TestData.Require(TestData.FashionCalib), calib);
        string calibHash = Hash(calib);
        var rng = new Random(1600);
        var unspecific = new List<string>();
        for (int trial = 0; trial < 24; trial++)
        {
            string input = Path.Combine(_dir, $"c{trial}.onnx");
            File.WriteAllBytes(input, Mutate(original, rng));
            string inputHash = Hash(input);
            string output = Path.Combine(_dir, $"c{trial}.q.onnx");
            string table = Path.Combine(_dir, $"c{trial}.json");
            // Calibration and dynamic quantization are the slow part: a third of the mutants go through them.
            string script = trial % 3 == 0
                ? "Get-OnnxGraph -LiteralPath $args[0] | Out-Null; Invoke-Quantization -Model $args[0] -Dynamic -Path $args[1] | Out-Null; " +
                  "Measure-Calibration -Model (Get-OnnxGraph -LiteralPath $args[0]) -InputPath $args[3] -OutFile $args[2] -BatchSize 100 | Out-Null"
                : "Get-OnnxGraph -LiteralPath $args[0] | Out-Null";
            var r = ps.Run(script, input, output, table, calib);
            foreach (var e in r.Errors)
            {
                string id = e.FullyQualifiedErrorId;
                bool specific = id.StartsWith("GetOnnxGraph", StringComparison.Ordinal) || id.StartsWith("InvokeQuantization", StringComparison.Ordinal)
                    || id.StartsWith("MeasureCalibration", StringComparison.Ordinal)
                    // a pipeline of a model that did not load binds nothing to -Model
                    || id.StartsWith("ParameterArgumentValidationErrorNullNotAllowed", StringComparison.Ordinal);
                if (!specific) unspecific.Add($"trial {trial}: {id}: {e.Exception.Message}");
                else if (id.Contains(",EvoQuant", StringComparison.Ordinal) && string.IsNullOrEmpty(e.ErrorDetails?.RecommendedAction)
                         && !id.StartsWith("Parameter", StringComparison.Ordinal))
                    unspecific.Add($"trial {trial}: {id} says nothing about what to do");
            }
            Assert.Equal(inputHash, Hash(input));
            if (File.Exists(output)) _ = OnnxModel.Load(output); // anything written is a loadable model
        }
        Assert.True(unspecific.Count == 0, string.Join("\n", unspecific));
        Assert.Equal(calibHash, Hash(calib));
        Assert.Empty(Directory.GetFiles(_dir, ".*"));
    }

    [Fact]
    public void ParameterExtremesOfMeasureCalibrationAreRefusedOrBounded()
    {
        using var ps = new PowerShellSession();
        string model = TestData.Require(TestData.FashionCnn), calib = TestData.Require(TestData.FashionCalib);
        // Out of range: refused at binding, before any work.
        foreach (string extreme in new[] { "-Method Entropy -Bins 1", "-Method Entropy -Bins 2097152", "-Method Percentile -Percentile 0",
                     "-Method Entropy -QuantizedBins 1", "-Method Entropy -MaxOutputMemory 1", "-BatchSize 0" })
        {
            var r = ps.Run($"Measure-Calibration -Model $args[0] -InputPath $args[1] {extreme}", model, calib);
            var e = Assert.Single(r.Errors);
            Assert.StartsWith("ParameterArgumentValidationError", e.FullyQualifiedErrorId);
        }
        // The documented maximum bins with a small budget: fewer bins, said so, and the histograms within it.
        var big = ps.Run("Measure-Calibration -Model $args[0] -InputPath $args[1] -Method Entropy -Bins 1048576 -MaxOutputMemory 16MB -BatchSize 100", model, calib);
        Assert.Empty(big.Errors);
        var table = Assert.Single(big.Objects<CalibrationTable>());
        Assert.InRange(table.Settings.Bins, 129, (1 << 20) - 1);
        Assert.Contains(big.Warnings, w => w.Contains("-MaxOutputMemory", StringComparison.Ordinal) && w.Contains($"using {table.Settings.Bins} bins", StringComparison.Ordinal));
        Assert.True(HistogramMemoryPlan.Bytes(CalibrationMethod.Entropy, table.Settings.Bins, table.Count) <= 16L << 20);
        Assert.All(table.Ranges, r => Assert.True(float.IsFinite(r.RangeMin) && r.RangeMin < r.RangeMax, r.Tensor));
    }

    [Fact]
    public void MutatedCalibrationSamplesAreSampleErrorsAndNeverPoisonTheRanges()
    {
        using var ps = new PowerShellSession();
        // Eight real samples: header mutations break the file, data mutations may make NaN or infinity.
        var all = EvoQuant.Data.NpyReader.Read(TestData.Require(TestData.FashionCalib));
        var eight = new EvoQuant.Data.NamedTensor(null, ((float[])all.Data)[..(8 * 784)], new long[] { 8, 1, 28, 28 });
        string clean = Path.Combine(_dir, "clean.npy");
        EvoQuant.Data.NpyWriter.Write(clean, eight);
        byte[] original = File.ReadAllBytes(clean);
        var rng = new Random(116);
        var files = new List<string>();
        for (int trial = 0; trial < 20; trial++)
        {
            byte[] bytes = (byte[])original.Clone();
            if (trial % 2 == 0) bytes = Mutate(bytes[..128], rng).Concat(bytes[128..]).ToArray(); // the header
            else
                for (int k = 0; k < 4; k++) bytes[128 + rng.Next(bytes.Length - 128) / 4 * 4 + 3] = (byte)(rng.Next(2) == 0 ? 0x7F : 0xFF); // exponents
            string f = Path.Combine(_dir, $"s{trial}.npy");
            File.WriteAllBytes(f, bytes);
            files.Add(f);
        }
        var hashes = files.ToDictionary(f => f, Hash);
        var r = ps.Run("Measure-Calibration -Model $args[0] -InputPath $args[1] -BatchSize 4",
            TestData.Require(TestData.FashionCnn), files.Append(clean).ToArray());
        foreach (var e in r.Errors)
            Assert.True(e.FullyQualifiedErrorId.StartsWith("MeasureCalibrationSample", StringComparison.Ordinal), $"{e.FullyQualifiedErrorId}: {e.Exception.Message}");
        Assert.Contains(r.Errors, e => e.FullyQualifiedErrorId.StartsWith("MeasureCalibrationSampleNotFinite,", StringComparison.Ordinal));
        var table = Assert.Single(r.Objects<CalibrationTable>());
        Assert.True(table.ErrorCount > 0);
        Assert.All(table.Ranges, x => Assert.True(float.IsFinite(x.RangeMin) && float.IsFinite(x.RangeMax) && x.RangeMin <= x.RangeMax, x.ToString()));
        Assert.All(files, f => Assert.Equal(hashes[f], Hash(f)));
    }
}
