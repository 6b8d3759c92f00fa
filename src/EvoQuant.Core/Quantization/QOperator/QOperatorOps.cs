using EvoQuant.Quantization.Operators;

namespace EvoQuant.Quantization.QOperator;

/// <summary>The op types the QOperator format quantizes, with the same declaring classes as QDQ (the
/// reference tool's QLinearOps table). Each has an integer form in <see cref="QOperatorRewriter"/>;
/// AveragePool gets its own output parameters here (QLinearAveragePool requantizes), Relu and Clip
/// fold into their producer (a Relu that cannot becomes QLinearLeakyRelu with alpha 0).</summary>
internal static class QOperatorOps
{
    public static void Register(OpQuantizerRegistry r)
    {
        const QuantFormat F = QuantFormat.QOperator;
        var weighted = new WeightedOpQuantizer();
        r.Register(F, "Conv", weighted);
        r.Register(F, "Gemm", weighted);
        r.Register(F, "MatMul", new MatMulQuantizer());

        var removable = new RemovableActivationQuantizer();
        r.Register(F, "Relu", removable);
        r.Register(F, "Clip", removable);

        var pass = new PassThroughQuantizer();
        foreach (var op in new[] { "Reshape", "Transpose", "Squeeze", "Unsqueeze", "Flatten" }) r.Register(F, op, pass);
        r.Register(F, "MaxPool", new PassThroughQuantizer(minOpset: 12));

        var generic = new GenericOpQuantizer();
        foreach (var op in new[] { "Add", "Mul", "Concat", "GlobalAveragePool", "AveragePool", "LeakyRelu" })
            r.Register(F, op, generic);
        r.Register(F, "Sigmoid", new BoundedOutputQuantizer(0f, 1f)); // QLinearSigmoid with the output's fixed range
    }
}
