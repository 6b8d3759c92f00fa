using EvoQuant.Quantization.Operators;
using EvoQuant.Quantization.Rewrite;

namespace EvoQuant.Quantization.Qdq;

/// <summary>The op types the QDQ format quantizes (ONNX Runtime's tool's QDQ and QLinear tables, plus
/// Flatten). QDQ keeps each op float between DequantizeLinear and QuantizeLinear, so one emitter serves them all.</summary>
internal static class QdqOps
{
    public static void Register(OpQuantizerRegistry r)
    {
        const RewriteFormat F = RewriteFormat.QDQ;
        var e = QdqNodeEmitter.Instance;
        var weighted = new WeightedOpQuantizer();
        foreach (var op in new[] { "Conv", "ConvTranspose", "Gemm" }) r.Register(F, op, weighted, e);
        r.Register(F, "MatMul", new MatMulQuantizer(), e);

        var removable = new RemovableActivationQuantizer();
        r.Register(F, "Relu", removable, e);
        r.Register(F, "Clip", removable, e);

        var pass = new PassThroughQuantizer();
        foreach (var op in new[] { "Reshape", "Transpose", "Squeeze", "Unsqueeze", "Flatten", "Slice", "AveragePool", "Resize", "Split", "TopK" })
            r.Register(F, op, pass, e);
        r.Register(F, "MaxPool", new PassThroughQuantizer(minOpset: 12), e);
        var gather = new PassThroughQuantizer(quantizeConstantData: true);
        r.Register(F, "Gather", gather, e);
        r.Register(F, "GatherElements", gather, e);

        var generic = new GenericOpQuantizer();
        foreach (var op in new[] { "Add", "Mul", "Concat", "GlobalAveragePool", "LeakyRelu", "ArgMax", "CumSum" })
            r.Register(F, op, generic, e);
        r.Register(F, "Pad", new GenericOpQuantizer(0), e);
        r.Register(F, "Where", new GenericOpQuantizer(1, 2), e);
        var probability = new BoundedOutputQuantizer(0f, 1f);
        foreach (var op in new[] { "Softmax", "Sigmoid", "HardSigmoid" }) r.Register(F, op, probability, e);
        r.Register(F, "Tanh", new BoundedOutputQuantizer(-1f, 1f), e);
        var norm = new NormalizationQuantizer();
        foreach (var op in new[] { "BatchNormalization", "InstanceNormalization", "LayerNormalization" }) r.Register(F, op, norm, e);

        r.RegisterFallback(F, generic, e);
    }
}
