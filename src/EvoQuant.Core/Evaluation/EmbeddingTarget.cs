using EvoQuant.Calibration;
using EvoQuant.Onnx;

namespace EvoQuant.Evaluation;

/// <summary>Where a comparison reads the embeddings: the hidden-state output of both models and the
/// attention-mask input of each batch, fed to an <see cref="EmbeddingComparer"/>.</summary>
internal sealed class EmbeddingTarget
{
    private readonly string _reference;
    private readonly string _candidate;
    private readonly string _mask;
    private readonly EmbeddingComparer _comparer;

    private EmbeddingTarget(string reference, string candidate, string mask, EmbeddingComparer comparer)
    {
        _reference = reference;
        _candidate = candidate;
        _mask = mask;
        _comparer = comparer;
    }

    /// <summary>Checks the options against the model: the output is a compared float output, the mask an input.</summary>
    public static EmbeddingTarget Resolve(OnnxModel reference, IReadOnlyList<(string Reference, string Candidate)> outputs, EmbeddingOptions options)
    {
        string output = options.HiddenStateOutput ?? reference.Proto.Graph.Output.FirstOrDefault()?.Name ?? "";
        int k = outputs.ToList().FindIndex(o => o.Reference == output);
        if (k < 0)
            throw new ArgumentException($"The hidden-state output '{output}' is not a float output of both models; they have {string.Join(", ", outputs.Select(o => o.Reference))}.", nameof(options));
        var inputs = reference.Graph.RuntimeInputs.Select(i => i.Name).ToList();
        if (!inputs.Contains(options.AttentionMaskInput))
            throw new ArgumentException($"The model has no input '{options.AttentionMaskInput}' to read the attention mask from; its inputs are {string.Join(", ", inputs)}.", nameof(options));
        return new EmbeddingTarget(outputs[k].Reference, outputs[k].Candidate, options.AttentionMaskInput, new EmbeddingComparer(options.Queries, options.Documents));
    }

    /// <summary>Pools one batch's hidden states of both runs.</summary>
    public void Add(SampleBatch batch, ModelRunner.RunResult reference, ModelRunner.RunResult candidate)
    {
        var shape = reference.Shape(_reference);
        var mask = batch.Inputs[_mask];
        if (shape.Length != 3 || mask.Rank != 2 || mask.Shape[0] != shape[0] || mask.Shape[1] != shape[1])
            throw new ArgumentException($"Output '{_reference}' has shape [{string.Join(",", shape)}] and input '{_mask}' {mask.ShapeText}: "
                + "pooling needs hidden states [rows, sequence, hidden] and a mask [rows, sequence].");
        var values = mask.ElementType == ElementTypes.Int64 ? (long[])mask.Data : (long[])mask.ConvertTo(ElementTypes.Int64).Data;
        _comparer.Add(reference.Data(_reference), candidate.Data(_candidate), values, (int)shape[0], (int)shape[1], (int)shape[2]);
    }

    public EmbeddingComparison Result() => _comparer.Result(_reference, _mask);
}
