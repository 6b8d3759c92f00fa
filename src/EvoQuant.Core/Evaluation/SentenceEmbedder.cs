using EvoQuant.Onnx;
using EvoQuant.Text;

namespace EvoQuant.Evaluation;

/// <summary>A BERT-family model's sentence embeddings for a list of sentences: encoded by
/// <see cref="BertTextEncoder"/> batch by batch, run in ONNX Runtime (all graph optimizations) and mean-pooled
/// over the attention mask from the model's first output (<see cref="SentenceEmbeddings.MeanPool"/>).
/// What the transformer tests and benchmarks compare a quantized model with its float one by.</summary>
public static class SentenceEmbedder
{
    /// <summary>Normalised embeddings [sentences, <paramref name="hidden"/>], in sentence order.</summary>
    public static float[] Embed(OnnxModel model, BertTextEncoder encoder, IReadOnlyList<string> sentences, int batchSize, out int hidden)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(encoder);
        ArgumentNullException.ThrowIfNull(sentences);
        using var runner = new ModelRunner(model, optimize: true);
        string output = runner.OutputMetadata.Keys.First();
        var all = new List<float>();
        hidden = 0;
        foreach (var batch in encoder.EncodeBatches(sentences, batchSize))
        {
            // The encoder writes token_type_ids too; models without that input do not take it.
            var inputs = batch.Tensors.Where(t => runner.InputMetadata.ContainsKey(t.Name!)).ToDictionary(t => t.Name!, t => t, StringComparer.Ordinal);
            using var run = runner.Run(inputs, new[] { output });
            var shape = run.Shape(output);
            hidden = (int)shape[2];
            var mask = (long[])batch[BertTextEncoder.AttentionMaskName]!.Data;
            all.AddRange(SentenceEmbeddings.MeanPool(run.Data(output), mask, (int)shape[0], (int)shape[1], hidden));
        }
        return all.ToArray();
    }
}
