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
        // The product stays float unless a quantized consumer wants it (MatMulIntegerToFloat); weights per channel where their columns differ.
        r.Register(F, "MatMul", new MatMulQuantizer(outputToConsumers: true, channelsFromData: true), e);

        var removable = new RemovableActivationQuantizer();
        r.Register(F, "Relu", removable, e);
        r.Register(F, "Clip", removable, e);

        var pass = new PassThroughQuantizer();
        foreach (var op in new[] { "Reshape", "Transpose", "Squeeze", "Unsqueeze", "Flatten", "Slice", "AveragePool", "Resize", "Split", "TopK" })
            r.Register(F, op, pass, e);
        r.Register(F, "MaxPool", new PassThroughQuantizer(minOpset: 12), e);
        // Embedding tables: int8 weights, one scale per row, float output; only the gathered rows are dequantized.
        r.Register(F, "Gather", new EmbeddingGatherQuantizer(), new EmbeddingGatherEmitter());
        r.Register(F, "GatherElements", new PassThroughQuantizer(quantizeConstantData: true), e);

        // Elementwise, normalization and probability ops only between quantized tensors (AfterQuantizedInputs).
        var generic = new GenericOpQuantizer();
        var afterQuantized = new AfterQuantizedInputs(generic);
        foreach (var op in new[] { "Add", "Mul", "Concat", "GlobalAveragePool", "LeakyRelu", "ArgMax", "CumSum" })
            r.Register(F, op, afterQuantized, e);
        r.Register(F, "Pad", new AfterQuantizedInputs(new GenericOpQuantizer(0), 0), e);
        r.Register(F, "Where", new AfterQuantizedInputs(new GenericOpQuantizer(1, 2), 1, 2), e);
        var probability = new AfterQuantizedInputs(new BoundedOutputQuantizer(0f, 1f), 0);
        foreach (var op in new[] { "Softmax", "Sigmoid", "HardSigmoid" }) r.Register(F, op, probability, e);
        r.Register(F, "Tanh", new AfterQuantizedInputs(new BoundedOutputQuantizer(-1f, 1f), 0), e);
        var norm = new AfterQuantizedInputs(new NormalizationQuantizer(), 0);
        foreach (var op in new[] { "BatchNormalization", "InstanceNormalization", "LayerNormalization" }) r.Register(F, op, norm, e);

        r.RegisterFallback(F, generic, e);
    }
}
