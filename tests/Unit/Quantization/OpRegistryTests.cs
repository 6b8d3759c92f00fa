using EvoQuant.Onnx.Proto;
using EvoQuant.Quantization;
using EvoQuant.Quantization.Dynamic;
using EvoQuant.Quantization.Operators;
using EvoQuant.Quantization.Qdq;
using EvoQuant.Quantization.QOperator;
using EvoQuant.Quantization.Rewrite;
using Xunit;

namespace EvoQuant.Tests.Quantization;

/// <summary>The registry is the one place op knowledge lives: every op type a format supports has a declarer
/// and an emitter of that format, and an emitter cannot be registered under another format.</summary>
public sealed class OpRegistryTests
{
    public static TheoryData<RewriteFormat> AllFormats => new() { RewriteFormat.QDQ, RewriteFormat.QOperator, RewriteFormat.Dynamic };

    [Theory]
    [MemberData(nameof(AllFormats))]
    public void EverySupportedOpTypeHasADeclarerAndAnEmitterOfItsFormat(RewriteFormat format)
    {
        var registry = OpQuantizerRegistry.Default;
        var ops = registry.SupportedOpTypes(format);
        Assert.NotEmpty(ops);
        foreach (var op in ops)
        {
            Assert.True(registry.IsRegistered(format, op));
            var r = registry.Registration(format, op);
            Assert.NotNull(r);
            Assert.NotNull(r!.Declarer);
            Assert.Equal(format, r.Emitter.Format);
            bool fits = format switch
            {
                RewriteFormat.QDQ => r.Emitter is IQdqEmitter,
                RewriteFormat.QOperator => r.Emitter is IQOperatorEmitter,
                _ => r.Emitter is IDynamicEmitter,
            };
            Assert.True(fits, $"{op}: {r.Emitter.GetType().Name} is not a {format} emitter");
        }
    }

    [Fact]
    public void StaticFormatsAnswerThroughTheirQuantFormat()
    {
        var registry = OpQuantizerRegistry.Default;
        Assert.Equal(registry.SupportedOpTypes(RewriteFormat.QDQ), registry.SupportedOpTypes(QuantFormat.QDQ));
        Assert.Equal(registry.SupportedOpTypes(RewriteFormat.QOperator), registry.SupportedOpTypes(QuantFormat.QOperator));
        // Dynamic quantization: ONNX Runtime's IntegerOps table plus Gemm, embedding Gathers and the fused Attention.
        Assert.Equal(new[] { "Conv", "Gather", "Gemm", "LSTM", "MatMul", "com.microsoft.Attention" }, registry.SupportedOpTypes(RewriteFormat.Dynamic).Order(StringComparer.Ordinal));
        Assert.True(registry.HasFallback(QuantFormat.QDQ));
        Assert.False(registry.HasFallback(QuantFormat.QOperator));
        Assert.Null(registry.Registration(RewriteFormat.QOperator, "Einsum"));
    }

    [Fact]
    public void AnEmitterOfAnotherFormatIsRefused()
    {
        var registry = OpQuantizerRegistry.Default.Copy();
        Assert.Throws<ArgumentException>(() => registry.Register(RewriteFormat.QOperator, "Einsum", new MatMulQuantizer(), QdqNodeEmitter.Instance));
        Assert.Throws<ArgumentException>(() => registry.Register(RewriteFormat.Dynamic, "Einsum", new MatMulQuantizer(), new EvoQuant.Quantization.QOperator.Emitters.QLinearMatMulEmitter()));
    }

    [Fact]
    public void CopyLeavesTheDefaultAsItWas()
    {
        var copy = OpQuantizerRegistry.Default.Copy();
        copy.Register(RewriteFormat.QDQ, "Einsum", new MatMulQuantizer(), QdqNodeEmitter.Instance);
        Assert.True(copy.IsRegistered(QuantFormat.QDQ, "Einsum"));
        Assert.False(OpQuantizerRegistry.Default.IsRegistered(QuantFormat.QDQ, "Einsum"));
        Assert.Equal(OpQuantizerRegistry.Default.SupportedOpTypes(RewriteFormat.QDQ).Count + 1, copy.SupportedOpTypes(RewriteFormat.QDQ).Count);
    }
}
