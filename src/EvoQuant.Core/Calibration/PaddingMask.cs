using EvoQuant.Data;
using EvoQuant.Onnx;
using EvoQuant.Text;

namespace EvoQuant.Calibration;

/// <summary>Which positions of a batch are padding: a model input [rows, sequence] of integers or booleans,
/// 0 where a position pads a shorter text (BERT-family exports name it attention_mask, what
/// <see cref="BertTextEncoder"/> writes). Statistics meant to describe the text (GPTQ's Gram of a MatMul's
/// input) leave those positions out: a padded position never reaches a pooled embedding or a generated
/// token, yet in a batch of short sentences padded to the longest it can outnumber the real tokens.</summary>
internal sealed class PaddingMask
{
    private PaddingMask(string input) => Input = input;

    /// <summary>The model input holding the mask.</summary>
    public string Input { get; }

    /// <summary>The model's runtime input named <paramref name="name"/> when it can be a mask (rank 2 where
    /// the rank is declared, integer or boolean); null when the model has none.</summary>
    public static PaddingMask? Find(OnnxModel model, string name = BertTextEncoder.AttentionMaskName)
    {
        ArgumentNullException.ThrowIfNull(model);
        var vi = model.Graph.RuntimeInputs.FirstOrDefault(i => i.Name == name);
        var tt = vi?.Type?.TensorType;
        if (tt == null || !(TypedArrays.IsInteger(tt.ElemType) || tt.ElemType == ElementTypes.Bool)) return null;
        if (tt.Shape != null && tt.Shape.Dim.Count != 2) return null;
        return new PaddingMask(name);
    }

    /// <summary>The flattened positions ([rows · sequence]) that hold tokens, in order, and how many positions
    /// there are; Tokens is null when no position is padding or the part has no mask.</summary>
    public (int[]? Tokens, long Positions) TokenPositions(IReadOnlyDictionary<string, NamedTensor> inputs)
    {
        if (!inputs.TryGetValue(Input, out var mask) || mask.Rank != 2) return (null, 0);
        var data = mask.Data;
        var tokens = new List<int>(data.Length);
        for (int i = 0; i < data.Length; i++)
            if (TypedArrays.GetDouble(data, i) != 0) tokens.Add(i);
        return (tokens.Count == data.Length ? null : tokens.ToArray(), data.Length);
    }
}
