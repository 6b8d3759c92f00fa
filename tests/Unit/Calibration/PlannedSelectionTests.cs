using EvoQuant.Calibration;
using EvoQuant.Onnx;
using EvoQuant.Onnx.Proto;
using EvoQuant.Quantization;
using EvoQuant.Targets;
using EvoQuant.Tests.Quantization.Helpers;
using EvoQuant.Tests.Support;
using Xunit;
using static EvoQuant.Tests.Quantization.Helpers.TinyModels;

namespace EvoQuant.Tests.Calibration;

/// <summary>Calibration measures the activations the quantization planner asks for: the op registry decides
/// both, so an op the quantizer knows is calibrated without a second list to update.</summary>
public sealed class PlannedSelectionTests
{
    // X -> BatchNormalization -> CumSum -> GatherElements -> TopK, and ArgMax of the CumSum: five op types the
    // old calibration list lacked, all quantized by the QDQ registry.
    private static OnnxModel FiveOps()
    {
        var g = new GraphProto { Name = "five" };
        g.Input.Add(Float("X", 1, 2, 3, 4));
        g.Initializer.Add(TensorData.FromFloats("gamma", new long[] { 2 }, new[] { 1.5f, 0.5f }));
        g.Initializer.Add(TensorData.FromFloats("beta", new long[] { 2 }, new[] { 0.1f, -0.2f }));
        g.Initializer.Add(TensorData.FromFloats("mean", new long[] { 2 }, new[] { 0.2f, -0.1f }));
        g.Initializer.Add(TensorData.FromFloats("var", new long[] { 2 }, new[] { 1.2f, 0.8f }));
        g.Initializer.Add(TensorData.FromArray<long>("axis", ElementTypes.Int64, Array.Empty<long>(), new[] { 3L }));
        g.Initializer.Add(TensorData.FromArray<long>("index", ElementTypes.Int64, new long[] { 1, 2, 3, 2 }, Enumerable.Range(0, 12).Select(i => (long)(i % 4)).ToArray()));
        g.Initializer.Add(TensorData.FromArray<long>("k", ElementTypes.Int64, new long[] { 1 }, new[] { 1L }));
        g.Node.Add(Node("BatchNormalization", new[] { "X", "gamma", "beta", "mean", "var" }, new[] { "bn" }, "bn"));
        g.Node.Add(Node("CumSum", new[] { "bn", "axis" }, new[] { "cs" }, "cs"));
        g.Node.Add(Node("GatherElements", new[] { "cs", "index" }, new[] { "ge" }, "ge", Int("axis", 3)));
        g.Node.Add(Node("TopK", new[] { "ge", "k" }, new[] { "top", "top_idx" }, "topk"));
        g.Node.Add(Node("ArgMax", new[] { "cs" }, new[] { "am" }, "argmax", Int("axis", 3)));
        g.ValueInfo.Add(Float("bn", 1, 2, 3, 4));
        g.ValueInfo.Add(Float("cs", 1, 2, 3, 4));
        g.ValueInfo.Add(Float("ge", 1, 2, 3, 2));
        g.Output.Add(Float("top", 1, 2, 3, 1));
        g.Output.Add(new ValueInfoProto { Name = "top_idx", Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = ElementTypes.Int64 } } });
        g.Output.Add(new ValueInfoProto { Name = "am", Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = ElementTypes.Int64 } } });
        return Model(g);
    }

    [Fact]
    public void Ops_the_old_list_lacked_are_calibrated_and_the_table_quantizes_the_model()
    {
        var model = FiveOps();
        var selection = new CalibrationTensorSelector().Select(model);
        Assert.Equal(new[] { "X", "bn", "cs", "ge", "top" }, selection.Tensors);
        Assert.Contains(selection.Skipped, s => s.Tensor == "gamma");
        Assert.Contains(selection.Skipped, s => s.Tensor == "am" && s.Reason.Contains("int64"));

        var table = Calibrator.Run(model, new object[] { Random(24, 7) }, new CalibrationOptions());
        Assert.Equal(new[] { "X", "bn", "cs", "ge", "top" }.Order(StringComparer.Ordinal), table.Ranges.Select(r => r.Tensor)); // ordered by name
        // Every range the planner needs is in the table: static quantization does not refuse the model.
        var result = ModelQuantizer.Quantize(model, QuantizationOptions.Static(table));
        Assert.Contains(result.QuantizedNodes, n => n.OpType == "BatchNormalization");
        Assert.Contains(result.QuantizedNodes, n => n.OpType == "CumSum");
        Assert.Contains(result.QuantizedNodes, n => n.OpType == "TopK");
    }

    [Fact]
    public void Op_type_patterns_and_node_filters_select_through_the_planner()
    {
        var model = FiveOps();
        // A pattern that matches a registered type plans it as the quantizer does.
        Assert.Equal(new[] { "X", "bn" }, new CalibrationTensorSelector(opTypes: new[] { "batch*" }).Select(model).Tensors);
        // Excluding the CumSum leaves its readers without a quantized input: the pass-through ops stay float.
        Assert.Equal(new[] { "X", "bn" }, new CalibrationTensorSelector(excludeNodes: new[] { "cs", "argmax" }).Select(model).Tensors);
        Assert.Empty(new CalibrationTensorSelector(opTypes: new[] { "NoSuchOp" }).Select(model).Tensors);
        // A pattern naming an op type no class knows uses the fallback, as quantizing with it in OpTypes does.
        var custom = TinyModel("Erf");
        Assert.Empty(new CalibrationTensorSelector().Select(custom).Tensors);
        Assert.Equal(new[] { "X", "Y" }, new CalibrationTensorSelector(opTypes: new[] { "erf" }).Select(custom).Tensors);
    }

    private static OnnxModel TinyModel(string op)
    {
        var g = new GraphProto { Name = op };
        g.Input.Add(Float("X", 1, 4));
        g.Node.Add(Node(op, new[] { "X" }, new[] { "Y" }, "n"));
        g.Output.Add(Float("Y", 1, 4));
        return Model(g);
    }

    /// <summary>On real models, in every static format and for every target and activation symmetry, the
    /// ranges static quantization needs are among the calibrated tensors: ranges for exactly those quantize.</summary>
    [Theory]
    [InlineData("fashion")]
    [InlineData("ocr-cls")]
    [InlineData("ocr-rec")]
    [Trait("Category", "TestData")]
    public void The_selection_holds_every_range_quantization_needs(string name)
    {
        var model = OnnxModel.Load(TestData.Require(name switch { "fashion" => TestData.FashionCnn, "ocr-cls" => TestData.OcrCls, _ => TestData.OcrRec }));
        var selection = new CalibrationTensorSelector().Select(model);
        var ranges = selection.Tensors.ToDictionary(t => t, _ => new ActivationRange(-1f, 1f), StringComparer.Ordinal);
        foreach (var format in Enum.GetValues<QuantFormat>())
            foreach (var target in new[] { QuantTarget.X64Avx2, QuantTarget.X64Vnni })
                foreach (bool symmetric in new[] { false, true })
                {
                    var options = QuantizationOptions.Static(ranges) with
                    {
                        Format = format, Target = target, ActivationSymmetric = symmetric, VerifyWithRuntime = false, UseContribOps = true,
                    };
                    var result = ModelQuantizer.Quantize(model, options); // throws when a range is missing
                    Assert.NotEmpty(result.QuantizedNodes);
                }
    }
}
