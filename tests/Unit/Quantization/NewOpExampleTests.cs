using EvoQuant.Onnx;
using EvoQuant.Onnx.Proto;
using EvoQuant.Quantization;
using EvoQuant.Quantization.Dynamic;
using EvoQuant.Quantization.Operators;
using EvoQuant.Quantization.Qdq;
using EvoQuant.Quantization.QOperator.Emitters;
using EvoQuant.Quantization.Rewrite;
using EvoQuant.Tests.Quantization.Helpers;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Xunit;
using static EvoQuant.Tests.Quantization.Helpers.TinyModels;

namespace EvoQuant.Tests.Quantization;

/// <summary>
/// How an op type is added to every format: one declarer class (below) and one registration per format,
/// pairing it with the format's emitter. The example is Einsum written as a plain matrix product
/// ("ij,jk->ik"), which the three formats can then quantize like MatMul: QDQ wraps it in Q/DQ pairs,
/// QOperator writes QLinearMatMul, dynamic quantization MatMulInteger. Nothing else changes.
/// </summary>
public sealed class NewOpExampleTests
{
    /// <summary>The one class: an Einsum that is a matrix product declares what MatMul declares.</summary>
    private sealed class MatrixProductEinsumQuantizer : IOpQuantizer
    {
        private static readonly MatMulQuantizer MatMul = new();

        public string? TryDeclare(NodeProto node, QuantizationContext context, QuantizationPlan plan)
        {
            string equation = node.Attribute.FirstOrDefault(a => a.Name == "equation")?.S.ToStringUtf8().Replace(" ", "") ?? "";
            return equation == "ij,jk->ik" ? MatMul.TryDeclare(node, context, plan) : $"equation '{equation}' is not the plain product ij,jk->ik.";
        }
    }

    /// <summary>The registrations: one per format.</summary>
    private static OpQuantizerRegistry RegistryWithEinsum()
    {
        var r = OpQuantizerRegistry.Default.Copy();
        var einsum = new MatrixProductEinsumQuantizer();
        r.Register(RewriteFormat.QDQ, "Einsum", einsum, QdqNodeEmitter.Instance);
        r.Register(RewriteFormat.QOperator, "Einsum", einsum, new QLinearMatMulEmitter());
        r.Register(RewriteFormat.Dynamic, "Einsum", einsum, new DynamicMatMulEmitter());
        return r;
    }

    private const int M = 8, K = 32, N = 16;

    private static OnnxModel Model(string equation = "ij,jk->ik", bool transposedWeight = false)
    {
        var g = new GraphProto { Name = "einsum" };
        g.Input.Add(Float("x", M, K));
        g.Output.Add(Float("y", M, N));
        g.Initializer.Add(TensorData.FromFloats("w", transposedWeight ? new long[] { N, K } : new long[] { K, N }, Random(K * N, 7, 0.2f)));
        g.Node.Add(Node("Einsum", new[] { "x", "w" }, new[] { "y" }, "einsum",
            new AttributeProto { Name = "equation", Type = AttributeProto.Types.AttributeType.String, S = Google.Protobuf.ByteString.CopyFromUtf8(equation) }));
        return TinyModels.Model(g, opset: 13);
    }

    private static readonly float[] X = Random(M * K, 11, 1f);

    private static float[] Run(OnnxModel model)
    {
        using var session = new InferenceSession(model.ToBytes());
        using var results = session.Run(new[] { NamedOnnxValue.CreateFromTensor("x", new DenseTensor<float>(X, new[] { M, K })) });
        return ((DenseTensor<float>)results.First().Value).ToArray();
    }

    public static TheoryData<string, string> Formats => new()
    {
        { "QDQ", "DequantizeLinear" },
        { "QOperator", "QLinearMatMul" },
        { "Dynamic", "MatMulInteger" },
    };

    [Theory]
    [MemberData(nameof(Formats))]
    public void OneDeclarerAndOneRegistrationPerFormatQuantizeTheNewOp(string format, string integerOp)
    {
        var model = Model();
        var ranges = MinMaxRanges.Measure(model, new[] { new Dictionary<string, DenseTensor<float>> { ["x"] = new(X, new[] { M, K }) } });
        var options = format == "Dynamic"
            ? QuantizationOptions.Dynamic()
            : QuantizationOptions.Static(ranges) with { Format = Enum.Parse<QuantFormat>(format) };

        // Without the registrations the op stays float in every format.
        var before = ModelQuantizer.Quantize(model, options);
        Assert.Empty(before.QuantizedNodes);

        var result = ModelQuantizer.Quantize(model, options, RegistryWithEinsum());
        Assert.Equal("Einsum", Assert.Single(result.QuantizedNodes).OpType);
        var ops = result.Model.Proto.Graph.Node.Select(n => n.OpType).ToList();
        Assert.Contains(integerOp, ops);
        // QDQ keeps the float op between Q/DQ pairs (its weight now an int8 initializer); the others replace it.
        Assert.Equal(format == "QDQ", ops.Contains("Einsum"));
        Assert.DoesNotContain(result.Model.Proto.Graph.Initializer, t => t.Name == "w");
        Assert.Equal(EvoQuant.Quantization.Provenance.NodeOutcome.Quantized, result.Provenance!.Nodes["y"].Outcome);
        Assert.Equal(EvoQuant.Quantization.Provenance.ProvenanceKind.Weight, result.Provenance.Tensors["w"].Kind);

        // And it computes the same product, within quantization error.
        var expected = Run(model);
        var actual = Run(result.Model);
        double maxAbs = expected.Max(v => Math.Abs(v)), maxErr = expected.Zip(actual, (e, a) => Math.Abs(e - a)).Max();
        Assert.True(maxErr < 0.05 * maxAbs, $"{format}: max error {maxErr} for outputs up to {maxAbs}");
    }

    [Fact]
    public void TheDeclarerKeepsOtherEquationsFloatWithItsReason()
    {
        var result = ModelQuantizer.Quantize(Model("ij,kj->ik", transposedWeight: true), QuantizationOptions.Dynamic(), RegistryWithEinsum());
        Assert.Empty(result.QuantizedNodes);
        Assert.Contains("not the plain product", Assert.Single(result.Skipped).Reason);
    }

    /// <summary>The same registrations reach calibration (it asks the planner which activations to measure)
    /// and the evaluation (it reads what the rewrite recorded): nothing else was written for Einsum.</summary>
    [Fact]
    public void CalibrationAndThePerTensorComparisonFollowTheRegistrations()
    {
        var model = Model();
        Assert.DoesNotContain("x", QuantizationPlanner.ActivationsToCalibrate(model, OpQuantizerRegistry.Default).Activations);
        Assert.Contains("x", QuantizationPlanner.ActivationsToCalibrate(model, RegistryWithEinsum()).Activations);

        var ranges = MinMaxRanges.Measure(model, new[] { new Dictionary<string, DenseTensor<float>> { ["x"] = new(X, new[] { M, K }) } });
        foreach (var format in new[] { QuantFormat.QDQ, QuantFormat.QOperator })
        {
            var result = ModelQuantizer.Quantize(model, QuantizationOptions.Static(ranges) with { Format = format }, RegistryWithEinsum());
            var x = new float[M, K];
            Buffer.BlockCopy(X, 0, x, 0, X.Length * sizeof(float));
            var sample = new Dictionary<string, Array> { ["x"] = x };
            var report = EvoQuant.Evaluation.AccuracyComparer.Compare(model, result.Model, new object[] { sample },
                new EvoQuant.Evaluation.ComparisonOptions { PerTensor = true, Provenance = result.Provenance });
            var weight = Assert.Single(report.Tensors, t => t.Kind == EvoQuant.Evaluation.TensorKind.Weight);
            Assert.Equal("w", weight.Tensor);
            Assert.True(weight.Sqnr is > 20 and < 80, $"{format}: weight SQNR {weight.Sqnr}");
            Assert.Contains(report.Tensors, t => t.Kind == EvoQuant.Evaluation.TensorKind.Activation && t.Tensor == "y" && t.Sqnr > 15);
        }
    }
}
