using EvoQuant.Quantization.Operators;
using EvoQuant.Quantization.Rewrite;

namespace EvoQuant.Quantization.Dynamic;

/// <summary>The op types dynamic quantization rewrites (ONNX Runtime's IntegerOps table, plus Gemm;
/// Gather of a constant table, as the reference tool quantizes embeddings): input 0
/// is quantized at run time, the weights offline.</summary>
internal static class DynamicOps
{
    public static void Register(OpQuantizerRegistry r)
    {
        const RewriteFormat F = RewriteFormat.Dynamic;
        var matmul = new DynamicMatMulEmitter();
        var oneWeight = new RuntimeInputQuantizer(1);
        r.Register(F, "MatMul", oneWeight, matmul);
        r.Register(F, "Gemm", oneWeight, matmul);
        r.Register(F, "Conv", oneWeight, new DynamicConvEmitter());
        r.Register(F, "Gather", new LookupTableQuantizer(), new DynamicGatherEmitter());
        r.Register(F, Rewrite.GraphRewrite.MicrosoftDomain + ".Attention", new RuntimeInputQuantizer(1), new DynamicAttentionEmitter());
        r.Register(F, "LSTM", new RuntimeInputQuantizer(1, 2), new DynamicLstmEmitter());
    }
}
