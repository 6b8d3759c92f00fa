using EvoQuant.Quantization.Operators;
using EvoQuant.Quantization.Rewrite;

namespace EvoQuant.Quantization.WeightOnly;

/// <summary>The op types weight-only quantization rewrites: MatMul and Gemm with a constant weight, Gather of an embedding.</summary>
internal static class WeightOnlyOps
{
    public static void Register(OpQuantizerRegistry r)
    {
        const RewriteFormat F = RewriteFormat.WeightOnly;
        var matmul = new WeightOnlyMatMulEmitter();
        var declarer = new WeightOnlyMatMulQuantizer();
        r.Register(F, "MatMul", declarer, matmul);
        r.Register(F, "Gemm", declarer, matmul);
        r.Register(F, "Gather", new EmbeddingQuantizer(), new WeightOnlyGatherEmitter());
    }
}
