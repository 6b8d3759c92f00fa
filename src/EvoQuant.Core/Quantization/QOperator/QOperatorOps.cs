using EvoQuant.Onnx.Proto;
using EvoQuant.Quantization.Operators;
using EvoQuant.Quantization.QOperator.Emitters;
using EvoQuant.Quantization.Rewrite;

namespace EvoQuant.Quantization.QOperator;

/// <summary>The op types the QOperator format quantizes, with the same declaring classes as QDQ (the
/// reference tool's QLinearOps table), each with the emitter of its integer form. AveragePool gets its own
/// output parameters here (QLinearAveragePool requantizes), Relu and Clip fold into their producer (a Relu
/// that cannot becomes QLinearLeakyRelu with alpha 0; a Clip that cannot stays float).</summary>
internal static class QOperatorOps
{
    public static void Register(OpQuantizerRegistry r)
    {
        const RewriteFormat F = RewriteFormat.QOperator;
        var weighted = new WeightedOpQuantizer();
        r.Register(F, "Conv", weighted, new QLinearConvEmitter());
        r.Register(F, "Gemm", weighted, new QGemmEmitter());
        r.Register(F, "MatMul", new MatMulQuantizer(), new QLinearMatMulEmitter());

        var removable = new RemovableActivationQuantizer();
        // A Relu that cannot fold into its producer: LeakyRelu with alpha 0 is the same function.
        r.Register(F, "Relu", removable, new QLinearUnaryEmitter("QLinearLeakyRelu", _ => new[] { new AttributeProto { Name = "alpha", Type = AttributeProto.Types.AttributeType.Float, F = 0f } }));
        r.Register(F, "Clip", removable, NoIntegerFormEmitter.Instance);

        var pass = new PassThroughQuantizer();
        foreach (var op in new[] { "Reshape", "Transpose", "Squeeze", "Unsqueeze", "Flatten" }) r.Register(F, op, pass, IntegerPassThroughEmitter.Instance);
        r.Register(F, "MaxPool", new PassThroughQuantizer(minOpset: 12), IntegerPassThroughEmitter.Instance);

        var generic = new GenericOpQuantizer();
        r.Register(F, "Add", generic, new QLinearBinaryEmitter("QLinearAdd"));
        r.Register(F, "Mul", generic, new QLinearBinaryEmitter("QLinearMul"));
        r.Register(F, "Concat", generic, new QLinearConcatEmitter());
        r.Register(F, "GlobalAveragePool", generic, new QLinearUnaryEmitter("QLinearGlobalAveragePool",
            _ => new[] { new AttributeProto { Name = "channels_last", Type = AttributeProto.Types.AttributeType.Int, I = 0 } }));
        r.Register(F, "AveragePool", generic, new QLinearUnaryEmitter("QLinearAveragePool", QLinearUnaryEmitter.Same));
        r.Register(F, "LeakyRelu", generic, new QLinearUnaryEmitter("QLinearLeakyRelu", QLinearUnaryEmitter.Same));
        r.Register(F, "Sigmoid", new BoundedOutputQuantizer(0f, 1f), new QLinearUnaryEmitter("QLinearSigmoid")); // QLinearSigmoid with the output's fixed range
    }
}
