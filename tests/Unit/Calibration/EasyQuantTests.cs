using EvoQuant.Calibration;
using EvoQuant.Data;
using EvoQuant.Numerics;
using EvoQuant.Onnx;
using EvoQuant.Quantization;
using EvoQuant.Targets;
using EvoQuant.Tests.Quantization.Helpers;
using EvoQuant.Tests.Support;
using Microsoft.ML.OnnxRuntime;
using Xunit;

namespace EvoQuant.Tests.Calibration;

/// <summary>Method = EQ (EasyQuant): MinMax ranges, then each layer input's scale searched, layer by layer, for
/// the best cosine between the float and the quantized layer outputs on the kept sample rows.</summary>
public class EasyQuantTests
{
    private const int Rows = 32;

    // fashion-cnn as the benchmarks quantize it: static QDQ per channel with the host's defaults.
    private static QuantizationOptions Format => TargetProfile.Resolve(QuantTarget.Host).StaticDefaults() with { PerChannel = true };

    private static readonly Lazy<CalibrationTable> s_eq = new(() => Calibrate(CalibrationMethod.EQ));
    private static readonly Lazy<CalibrationTable> s_minMax = new(() => Calibrate(CalibrationMethod.MinMax));

    private static CalibrationTable Calibrate(CalibrationMethod method) =>
        Calibrator.Run(FashionData.Model, new object[] { TestData.Require(TestData.FashionCalib) },
            new CalibrationOptions { Method = method, BatchSize = 50, SearchRows = Rows, SearchQuantization = Format });

    [Fact]
    public void Every_searched_tensor_keeps_at_least_its_base_cosine_and_some_gain()
    {
        var eq = s_eq.Value;
        var searched = eq.Ranges.Where(r => r.Search != null).ToList();
        Assert.NotEmpty(searched);
        foreach (var r in searched)
        {
            Assert.Equal(CalibrationMethod.EQ, r.Method);
            Assert.True(r.Search!.Cosine >= r.Search.BaseCosine, r.Choice);
            var b = s_minMax.Value[r.Tensor]!;
            Assert.Equal(b.RangeMin * r.Search.Factor, r.RangeMin);
            Assert.Equal(b.RangeMax * r.Search.Factor, r.RangeMax);
        }
        Assert.Contains(searched, r => r.Search!.Cosine > r.Search.BaseCosine && r.Search.Factor != 1f);
        // Tensors no layer with weights reads keep MinMax's range.
        foreach (var r in eq.Ranges.Where(r => r.Search == null))
            Assert.Equal((s_minMax.Value[r.Tensor]!.RangeMin, s_minMax.Value[r.Tensor]!.RangeMax), (r.RangeMin, r.RangeMax));
    }

    [Fact]
    public void The_quantizer_given_the_chosen_range_reproduces_the_searched_cosine_of_the_first_layer()
    {
        // The first Conv, measured independently: its output in the model the quantizer writes from MinMax's
        // ranges, and from the same ranges with EQ's for its input only, against the float model's.
        var model = FashionData.Model;
        var conv = model.Graph.Nodes.First(n => n.OpType == "Conv");
        var eqRow = s_eq.Value[conv.Input[0]]!;
        Assert.NotNull(eqRow.Search);
        var baseRanges = QuantizationOptions.RangesOf(s_minMax.Value);
        var withEq = baseRanges.ToDictionary(p => p.Key, p => p.Value);
        withEq[eqRow.Tensor] = new ActivationRange(eqRow.RangeMin, eqRow.RangeMax);
        // With the factors searched for its weight (the first layer's weight is searched with its input).
        var weightFactors = eqRow.Search!.Weights.ToDictionary(w => w.Weight, w => w.Factor);
        Assert.NotEmpty(weightFactors);
        // The Conv absorbs the BatchNormalization after it (as ONNX Runtime runs the float model): compare that output.
        string output = model.Graph.Consumers(conv.Output[0]) is [{ OpType: "BatchNormalization" } bn] ? bn.Output[0] : conv.Output[0];
        var x = NpyReader.Read(TestData.Require(TestData.FashionCalib)).SliceRows(0, Rows);
        // A quantized model may compute it under another name (a ReLU6 after it folded into its QuantizeLinear).
        float[] Output(OnnxModel m, string output)
        {
            using var session = new InferenceSession(AugmentedModelBuilder.Build(m, new[] { output }).ToBytes());
            using var r = session.Run(new[] { NamedOnnxValue.CreateFromTensor(model.Inputs[0].Name,
                new Microsoft.ML.OnnxRuntime.Tensors.DenseTensor<float>(x.ToFloatArray(), x.GetShape().Select(d => (int)d).ToArray())) },
                new[] { output });
            return r.First().AsTensor<float>().ToArray();
        }
        double MeanCosine(float[] a, float[] b)
        {
            int size = a.Length / Rows;
            return Enumerable.Range(0, Rows).Average(i => ErrorMetrics.CosineSimilarity(a.AsSpan(i * size, size), b.AsSpan(i * size, size)));
        }
        var reference = Output(model, output);
        var qBase = ModelQuantizer.Quantize(model, Format with { ActivationRanges = baseRanges });
        var qEq = ModelQuantizer.Quantize(model, (Format with { ActivationRanges = withEq }).WithWeightScaleFactors(weightFactors));
        double atBase = MeanCosine(reference, Output(qBase.Model, qBase.Provenance!.OutputNameOf(output)));
        double atEq = MeanCosine(reference, Output(qEq.Model, qEq.Provenance!.OutputNameOf(output)));
        Assert.True(atEq >= atBase, $"EQ {atEq} < MinMax {atBase}");
        Assert.Equal(eqRow.Search!.BaseCosine, atBase, 4);
        Assert.Equal(eqRow.Search.Cosine, atEq, 4);
    }

    [Fact]
    public void The_EQ_model_is_at_least_as_accurate_as_the_MinMax_one_on_the_test_images()
    {
        double minMax = FashionData.Accuracy(ModelQuantizer.Quantize(FashionData.Model, Format with { ActivationRanges = QuantizationOptions.RangesOf(s_minMax.Value) }).Model);
        double eq = FashionData.Accuracy(ModelQuantizer.Quantize(FashionData.Model, Format.WithCalibration(s_eq.Value)).Model);
        Assert.True(eq >= minMax, $"EQ {eq:F2}% < MinMax {minMax:F2}%");
    }

    [Fact]
    public void Searched_weight_factors_never_lower_their_layer_s_cosine()
    {
        var weights = s_eq.Value.Ranges.Where(r => r.Search != null).SelectMany(r => r.Search!.Weights).ToList();
        Assert.NotEmpty(weights);
        // Each weight is searched once, with the first tensor its layer reads.
        Assert.Equal(weights.Count, weights.Select(w => w.Weight).Distinct().Count());
        foreach (var w in weights)
        {
            Assert.Contains(w.Factor, EasyQuantSearch.WeightFactors);
            Assert.True(w.Cosine >= w.BaseCosine, w.ToString());
        }
        // The search is not a no-op: some weight moved, for a better layer cosine.
        Assert.Contains(weights, w => w.Factor != 1f && w.Cosine > w.BaseCosine);
        Assert.Equal(weights.Where(w => w.Factor != 1f).ToDictionary(w => w.Weight, w => w.Factor), s_eq.Value.WeightScaleFactors);
        Assert.Contains("weights '", s_eq.Value.Ranges.First(r => r.Search?.Weights.Any(w => w.Factor != 1f) == true).Choice);
    }

    [Fact]
    public void The_searched_factors_reach_the_written_model_s_weight_scales()
    {
        // The same ranges with and without the table's weight factors: each moved weight's stored scales (one per
        // channel) are the unsearched ones times its factor; the others are unchanged.
        var eq = s_eq.Value;
        var factors = eq.WeightScaleFactors;
        Assert.NotEmpty(factors);
        var plain = ModelQuantizer.Quantize(FashionData.Model, Format with { ActivationRanges = QuantizationOptions.RangesOf(eq) });
        var searched = ModelQuantizer.Quantize(FashionData.Model, Format.WithCalibration(eq));
        float[] Scales(QuantizationResult q, string weight)
        {
            var t = q.Provenance!.Tensors[weight];
            Assert.Equal(EvoQuant.Quantization.Provenance.ProvenanceKind.Weight, t.Kind);
            return q.Model.GetFloats(q.Model.Graph.GetConstant(t.Scale!)!);
        }
        foreach (var w in eq.Ranges.Where(r => r.Search != null).SelectMany(r => r.Search!.Weights))
        {
            float[] before = Scales(plain, w.Weight), after = Scales(searched, w.Weight);
            Assert.True(before.Length > 1, $"'{w.Weight}' is per channel");
            Assert.Equal(before.Select(s => s * w.Factor), after);
        }
        // A weight's own override wins over its searched factor.
        var (weight, factor) = factors.First();
        var options = (Format with { TensorOverrides = new Dictionary<string, TensorOverride> { [weight] = new() { ScaleFactor = 1f } } }).WithCalibration(eq);
        Assert.Equal(1f, options.TensorOverrides[weight].ScaleFactor);
        Assert.Equal(factors.Count, options.TensorOverrides.Count);
    }

    [Fact]
    public void The_rows_kept_for_the_search_do_not_grow_with_the_samples()
    {
        var test = NpyReader.Read(TestData.Require(TestData.FashionTestX));
        (long Rows, long Bytes) Kept(int samples)
        {
            using var run = new CalibrationRun(FashionData.Model, new CalibrationOptions { Method = CalibrationMethod.EQ, BatchSize = 50, SearchRows = 64 });
            run.Add(test.SliceRows(0, samples));
            return (run.SearchRowsKept, run.SearchBytesKept);
        }
        var small = Kept(100);
        Assert.Equal(64, small.Rows);
        Assert.Equal(64L * 28 * 28 * sizeof(float), small.Bytes);
        Assert.Equal(small, Kept(1000));
    }

    [Fact]
    public void Over_Auto_the_search_starts_from_each_tensor_s_Auto_range()
    {
        var options = new CalibrationOptions { Method = CalibrationMethod.Auto, BatchSize = 50 };
        var items = new object[] { TestData.Require(TestData.FashionCalib) };
        var auto = Calibrator.Run(FashionData.Model, items, options);
        var eq = Calibrator.Run(FashionData.Model, items,
            options with { Method = CalibrationMethod.EQ, SearchBase = CalibrationMethod.Auto, SearchRows = 16, SearchQuantization = Format });
        Assert.Equal(CalibrationMethod.Auto, eq.Settings.SearchBase);
        Assert.Contains(eq.Ranges, r => r.Search != null);
        foreach (var r in eq.Ranges)
        {
            var a = auto[r.Tensor]!;
            float f = r.Search?.Factor ?? 1f;
            Assert.Equal((a.RangeMin * f, a.RangeMax * f), (r.RangeMin, r.RangeMax));
            Assert.Equal(r.Search == null ? a.Method : CalibrationMethod.EQ, r.Method);
            if (r.Search != null) Assert.Equal(a.Method, r.Search.Base);
        }
        Assert.Throws<ArgumentException>(() => new CalibrationSettings { Method = CalibrationMethod.Auto, SearchBase = CalibrationMethod.MinMax }.Validate());
        Assert.Throws<ArgumentException>(() => new CalibrationSettings { Method = CalibrationMethod.EQ, SearchBase = CalibrationMethod.EQ }.Validate());
    }

    [Fact]
    public void The_choice_survives_JSON_and_an_EQ_table_cannot_be_merged()
    {
        var eq = s_eq.Value;
        var back = CalibrationTable.FromJson(eq.ToJson());
        Assert.Equal(CalibrationMethod.EQ, back.Settings.Method);
        Assert.Equal(Rows, back.Settings.SearchRows);
        foreach (var r in eq.Ranges)
        {
            Assert.Equal(r.Search, back[r.Tensor]!.Search);
            Assert.Equal(r.Choice, back[r.Tensor]!.Choice);
        }
        var e = Assert.Throws<ArgumentException>(() => CalibrationTable.Merge(eq, eq));
        Assert.Contains("EQ", e.Message);
        Assert.Throws<ArgumentException>(() => new CalibrationSettings { Method = CalibrationMethod.EQ, Bins = 256 }.Validate());
        // Other methods' settings do not carry the search's rows (their tables are unchanged).
        Assert.Null(new CalibrationOptions { Method = CalibrationMethod.MinMax, SearchRows = 8 }.ToSettings().SearchRows);
    }
}
