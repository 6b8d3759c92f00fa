using EvoQuant.Data;
using EvoQuant.Evaluation;
using EvoQuant.Onnx;
using EvoQuant.Onnx.Proto;
using EvoQuant.Quantization;
using EvoQuant.Quantization.Provenance;
using EvoQuant.Quantization.WeightOnly;
using Xunit;
using static EvoQuant.Tests.Quantization.Helpers.TinyModels;

namespace EvoQuant.Tests.Quantization.WeightOnly;

/// <summary>What the weight-only rewrite decides around the packing: which nodes it takes and why it leaves the
/// others, layers kept at 8 bits, a weight shared by two nodes stored once, statistics handed to the methods that
/// need them (and a specific error when missing), the opset raised for the standard form, the provenance, and
/// Compare-QuantAccuracy's comparer on its output.</summary>
public sealed class WeightOnlyRewriteTests
{
    private const int K = 64, H = 96, N = 32, V = 40;

    /// <summary>Gather (embedding) -> MatMul -> ReduceMean (axes attribute, opset 13) ... -> Gemm (transB) -> MatMul with a
    /// run-time B (stays float) and a MatMul sharing the first weight.</summary>
    private static OnnxModel Decoderish()
    {
        var g = new GraphProto { Name = "decoderish" };
        var ids = new ValueInfoProto { Name = "ids", Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = ElementTypes.Int64, Shape = new TensorShapeProto() } } };
        ids.Type.TensorType.Shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = 3 });
        g.Input.Add(ids);
        g.Output.Add(Float("y", 3, N));
        g.Output.Add(Float("z", 3, H));
        g.Initializer.Add(TensorData.FromFloats("embed", new long[] { V, K }, Random(V * K, 1, 0.5f)));
        g.Initializer.Add(TensorData.FromFloats("w1", new long[] { K, H }, Random(K * H, 2, 0.2f)));
        g.Initializer.Add(TensorData.FromFloats("w2", new long[] { N, H }, Random(N * H, 3, 0.2f)));
        g.Node.Add(Node("Gather", new[] { "embed", "ids" }, new[] { "x" }, "embedding"));
        g.Node.Add(Node("MatMul", new[] { "x", "w1" }, new[] { "h" }, "up"));
        g.Node.Add(Node("ReduceMean", new[] { "h" }, new[] { "mean" }, "mean", new AttributeProto { Name = "axes", Type = AttributeProto.Types.AttributeType.Ints, Ints = { -1 } }));
        g.Node.Add(Node("Sub", new[] { "h", "mean" }, new[] { "hc" }, "center"));
        g.Node.Add(Node("Gemm", new[] { "hc", "w2" }, new[] { "y" }, "down", Int("transB", 1)));
        g.Node.Add(Node("MatMul", new[] { "x", "w1" }, new[] { "h2" }, "up_again"));
        g.Node.Add(Node("Transpose", new[] { "h2" }, new[] { "h2t" }, "t"));
        g.Node.Add(Node("MatMul", new[] { "h2", "h2t" }, new[] { "gram" }, "runtime_b"));
        g.Node.Add(Node("MatMul", new[] { "gram", "h2" }, new[] { "z" }, "runtime_b2"));
        return Model(g);
    }

    private static readonly long[] Ids = { 4, 0, 39 };

    [Fact]
    public void QuantizesConstantWeightsOnceAndSaysWhyTheRestStaysFloat()
    {
        var model = Decoderish();
        var result = ModelQuantizer.Quantize(model, QuantizationOptions.ForWeightOnly());
        var g = result.Model.Proto.Graph;

        Assert.Equal(new[] { "GatherBlockQuantized", "MatMulNBits", "ReduceMean", "Sub", "MatMulNBits", "MatMulNBits", "Transpose", "MatMul", "MatMul" }, g.Node.Select(n => n.OpType));
        Assert.Equal(new[] { "embedding", "up", "down", "up_again" }, result.QuantizedNodes.Select(n => n.Name));
        Assert.Contains("is not a constant", result.Skipped.Single(s => s.Name == "runtime_b").Reason);
        // w1 read by two MatMuls is stored once; no float weight is left.
        Assert.Equal(g.Node[1].Input[1], g.Node[5].Input[1]);
        Assert.Equal(3, result.WeightOnlyLayers.Count);
        Assert.DoesNotContain(g.Initializer, t => t.Name is "embed" or "w1" or "w2");
        Assert.All(g.Initializer.Where(t => t.DataType == ElementTypes.Float), t => Assert.EndsWith("_s", t.Name)); // only block scales stay float
        Assert.Equal(NodeOutcome.Quantized, result.Provenance!.Nodes["h"].Outcome);
        Assert.Equal(g.Node[1].Input[1], result.Provenance.Tensors["w1"].QuantizedTensor);
        Assert.True(result.QuantizedWeightBytesBefore > 6 * result.QuantizedWeightBytesAfter);
    }

    [Fact]
    public void ChosenLayersKeepEightBits()
    {
        var model = Decoderish();
        var ends = ModelQuantizer.Quantize(model, QuantizationOptions.ForWeightOnly(new WeightOnlyOptions { EightBitFirstAndLast = true }));
        // First and last quantized nodes: the embedding and the second MatMul (which shares w1 at 8 bits, a new copy).
        Assert.Equal(new[] { 8, 4, 4, 8 }, ends.Model.Proto.Graph.Node.Where(n => n.Domain == "com.microsoft").Select(n => n.Attribute.Single(a => a.Name == "bits").I).Select(b => (int)b));
        Assert.Equal(new[] { 8, 4, 4, 8 }, ends.WeightOnlyLayers.Select(l => l.Bits));
        var named = ModelQuantizer.Quantize(model, QuantizationOptions.ForWeightOnly(new WeightOnlyOptions { EightBitNodes = new[] { "do*" } }));
        Assert.Equal(new[] { ("embedding", 4), ("up", 4), ("down", 8) }, named.WeightOnlyLayers.Select(l => (l.Node, l.Bits)));
        // 8 bits lose less than 4 on the same weight.
        Assert.True(named.WeightOnlyLayers[2].Sqnr > ends.WeightOnlyLayers[2].Sqnr + 15);
    }

    /// <summary>A method that needs statistics: it checks it is given those of the node's input, then rounds to nearest.</summary>
    private sealed class StatisticsCheckingMethod(IReadOnlyDictionary<string, InputStatistics> expected) : IWeightOnlyMethod
    {
        public List<InputStatistics?> Seen { get; } = new();
        public string Name => "Checking";
        public bool NeedsInputStatistics => true;
        public BlockQuantizedMatrix Quantize(ReadOnlySpan<float> weight, int rows, int columns, BlockQuantizationSpec spec, InputStatistics? statistics)
        {
            Seen.Add(statistics);
            return RoundToNearestMethod.Instance.Quantize(weight, rows, columns, spec, null);
        }
    }

    [Fact]
    public void MethodsThatNeedStatisticsGetThoseOfTheNodesInputOrASpecificError()
    {
        var model = Decoderish();
        var inputs = WeightOnlyPlanner.InputsNeedingStatistics(model, QuantizationOptions.ForWeightOnly());
        Assert.Equal(new[] { ("x", K), ("hc", H) }, inputs.Select(i => (i.Activation, i.Channels)));

        var stats = inputs.ToDictionary(i => i.Activation, i => new InputStatistics(i.Channels));
        var method = new StatisticsCheckingMethod(stats);
        var result = ModelQuantizer.Quantize(model, QuantizationOptions.ForWeightOnly(new WeightOnlyOptions { Method = method, InputStatistics = stats }));
        // x's for w1, hc's for w2; the shared w1 was quantized once. The embedding table, whose input is an index,
        // has no statistics to weigh its error by: it is rounded to nearest, and its layer says so.
        Assert.Equal(new[] { stats["x"], stats["hc"] }, method.Seen);
        Assert.Equal(new[] { ("embedding", "RTN"), ("up", "Checking"), ("down", "Checking") }, result.WeightOnlyLayers.Select(l => (l.Node, l.Method)));

        var missing = Assert.Throws<MissingInputStatisticsException>(() => ModelQuantizer.Quantize(model,
            QuantizationOptions.ForWeightOnly(new WeightOnlyOptions { Method = method, InputStatistics = new Dictionary<string, InputStatistics> { ["x"] = stats["x"] } })));
        Assert.Equal("hc", missing.Tensor);
        Assert.Equal("down", missing.NodeName);
        Assert.Throws<MissingInputStatisticsException>(() => ModelQuantizer.Quantize(model, QuantizationOptions.ForWeightOnly(new WeightOnlyOptions { Method = method })));
    }

    [Fact]
    public void TheStandardFormRaisesTheOpsetAndConvertsReductionAxes()
    {
        var model = Decoderish();
        var result = ModelQuantizer.Quantize(model, QuantizationOptions.ForWeightOnly(new WeightOnlyOptions { Form = WeightOnlyForm.DequantizeLinear, Symmetric = false }));
        var p = result.Model.Proto;
        Assert.Equal(21, p.OpsetImport.Single(o => o.Domain == "").Version);
        Assert.True(p.IrVersion >= 10);
        Assert.DoesNotContain(p.OpsetImport, o => o.Domain == "com.microsoft");
        var mean = p.Graph.Node.Single(n => n.OpType == "ReduceMean");
        Assert.Empty(mean.Attribute);
        Assert.Equal(2, mean.Input.Count);
        Assert.Contains(result.Warnings, w => w.Contains("raised from 13 to 21"));
        Assert.All(p.Graph.Node.Where(n => n.OpType == "DequantizeLinear"), n => Assert.Equal(32, n.Attribute.Single(a => a.Name == "block_size").I));
        Assert.All(p.Graph.Initializer.Where(t => t.Name.EndsWith("_quantized")), t => Assert.Equal(ElementTypes.UInt4, t.DataType));
        // Same outputs as the float model up to 4-bit weight error (the verification ran it too).
        var (fy, qy) = (Run(model), Run(result.Model));
        Assert.True(EvoQuant.Numerics.ErrorMetrics.Sqnr(fy, qy) > 12, $"SQNR {EvoQuant.Numerics.ErrorMetrics.Sqnr(fy, qy):F1} dB");
    }

    [Fact]
    public void OldOpsetsAndBadOptionsAreRefusedBeforeAnyWork()
    {
        var old = Decoderish();
        old.Proto.OpsetImport[0].Version = 11;
        var e = Assert.Throws<QuantizationOptionsException>(() => ModelQuantizer.Quantize(old, QuantizationOptions.ForWeightOnly(new WeightOnlyOptions { Form = WeightOnlyForm.DequantizeLinear })));
        Assert.Equal("WeightOnly.Form", e.Option);
        Assert.Equal("WeightOnly.Bits", Assert.Throws<QuantizationOptionsException>(() => QuantizationOptionsValidator.Validate(QuantizationOptions.ForWeightOnly(new WeightOnlyOptions { Bits = 3 }))).Option);
        Assert.Equal("WeightOnly.BlockSize", Assert.Throws<QuantizationOptionsException>(() => QuantizationOptionsValidator.Validate(QuantizationOptions.ForWeightOnly(new WeightOnlyOptions { BlockSize = 48 }))).Option);
        Assert.Equal("WeightOnly.AccuracyLevel", Assert.Throws<QuantizationOptionsException>(() => QuantizationOptionsValidator.Validate(QuantizationOptions.ForWeightOnly(new WeightOnlyOptions { AccuracyLevel = 5 }))).Option);
        Assert.Equal("OpTypes", Assert.Throws<QuantizationOptionsException>(() => QuantizationOptionsValidator.Validate(QuantizationOptions.ForWeightOnly() with { OpTypes = new[] { "Conv" } })).Option);
        // The MatMulNBits form does not touch the opset: an opset-11 model is fine.
        Assert.Equal(11, ModelQuantizer.Quantize(old, QuantizationOptions.ForWeightOnly()).Model.Proto.OpsetImport[0].Version);
    }

    [Fact]
    public void TheAccuracyComparerRunsOnWeightOnlyModels()
    {
        var model = Decoderish();
        var result = ModelQuantizer.Quantize(model, QuantizationOptions.ForWeightOnly(new WeightOnlyOptions { Bits = 8 }));
        var samples = Enumerable.Range(0, 4).Select(i => (object)new Sample(new NamedTensor("ids", Ids.Select(v => (v + i) % V).ToArray(), new long[] { 3 }), $"s{i}")).ToList();
        var report = AccuracyComparer.Compare(model, result.Model, samples, new ComparisonOptions { PerTensor = true, Provenance = result.Provenance });
        var y = report.Outputs.Single(o => o.Output == "y");
        Assert.True(y.Sqnr > 25, $"SQNR {y.Sqnr:F1} dB");
        Assert.Equal(12, report.Summary.Rows);
        // Per tensor: the activations that the weight-only nodes write are compared by name.
        Assert.Contains(report.Tensors, t => t.Tensor == "h");
    }

    private static float[] Run(OnnxModel model)
    {
        using var s = new Microsoft.ML.OnnxRuntime.InferenceSession(model.ToBytes());
        using var r = s.Run(new[] { Microsoft.ML.OnnxRuntime.NamedOnnxValue.CreateFromTensor("ids", new Microsoft.ML.OnnxRuntime.Tensors.DenseTensor<long>(Ids, new[] { 3 })) });
        return ((Microsoft.ML.OnnxRuntime.Tensors.DenseTensor<float>)r.First().Value).Buffer.ToArray();
    }
}
