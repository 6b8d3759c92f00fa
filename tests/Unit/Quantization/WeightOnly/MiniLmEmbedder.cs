using EvoQuant.Evaluation;
using EvoQuant.Onnx;
using EvoQuant.Text;
using Microsoft.ML.OnnxRuntime;

namespace EvoQuant.Tests.Quantization.WeightOnly;

/// <summary>Sentence embeddings of a BERT-family model as sentence-transformers computes them (Core's encoder and
/// mean pooling), in batches, for comparing a quantized model with its float one.</summary>
internal static class MiniLmEmbedder
{
    public static float[] Embed(OnnxModel model, BertTextEncoder encoder, IReadOnlyList<string> sentences, out int hidden, int batch = 16)
    {
        using var options = new SessionOptions { LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR };
        using var session = new InferenceSession(model.ToBytes(), options);
        string output = session.OutputMetadata.Keys.First();
        var result = new List<float>();
        hidden = 0;
        foreach (var sample in encoder.EncodeBatches(sentences, batch))
        {
            var names = sample.Tensors.Where(t => session.InputMetadata.ContainsKey(t.Name!)).ToList();
            var values = names.Select(t => t.ToOrtValue()).ToList();
            try
            {
                using var outputs = session.Run(new RunOptions(), names.Select(t => t.Name!).ToList(), values, new[] { output });
                var info = outputs[0].GetTensorTypeAndShape();
                var shape = info.Shape;
                hidden = (int)shape[2];
                var mask = (long[])sample[BertTextEncoder.AttentionMaskName]!.Data;
                result.AddRange(SentenceEmbeddings.MeanPool(outputs[0].GetTensorDataAsSpan<float>(), mask, (int)shape[0], (int)shape[1], hidden));
            }
            finally
            {
                foreach (var v in values) v.Dispose();
            }
        }
        return result.ToArray();
    }

    public static double MeanCosine(float[] a, float[] b, int hidden)
    {
        int rows = a.Length / hidden;
        double sum = 0;
        for (int r = 0; r < rows; r++) sum += SentenceEmbeddings.Cosine(a, b, r, hidden);
        return sum / rows;
    }
}
