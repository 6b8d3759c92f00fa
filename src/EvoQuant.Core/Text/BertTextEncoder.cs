using EvoQuant.Data;
using Microsoft.ML.Tokenizers;

namespace EvoQuant.Text;

/// <summary>Turns sentences into the token-id tensors a BERT-family model takes (input_ids,
/// attention_mask, token_type_ids; int64, [rows, sequence]), with the model's WordPiece vocabulary.
/// Tokenizing is Microsoft.ML.Tokenizers' BertTokenizer (lower-casing, accent stripping and
/// punctuation splitting as in BERT's reference tokenizer); this class only pads, truncates and lays out.</summary>
public sealed class BertTextEncoder
{
    public const string InputIdsName = "input_ids";
    public const string AttentionMaskName = "attention_mask";
    public const string TokenTypeIdsName = "token_type_ids";

    /// <summary>Default of <see cref="MaxLength"/>: the sequence length BERT-family embedding models are usually run at.</summary>
    public const int DefaultMaxLength = 128;

    /// <summary>Default sentences per sample for callers that batch (ConvertTo-TokenSample).</summary>
    public const int DefaultBatchSize = 32;

    private readonly BertTokenizer _tokenizer;

    /// <summary>Longest sequence a row gets, [CLS] and [SEP] included; longer sentences are truncated.</summary>
    public int MaxLength { get; }

    /// <summary>Pad every batch to <see cref="MaxLength"/> (fixed shapes, as for benchmarks), or only to its
    /// longest row (less work per batch).</summary>
    public bool PadToMaxLength { get; }

    public BertTextEncoder(string vocabularyPath, int maxLength = DefaultMaxLength, bool padToMaxLength = false, bool lowerCase = true)
    {
        ArgumentException.ThrowIfNullOrEmpty(vocabularyPath);
        if (!File.Exists(vocabularyPath)) throw new FileNotFoundException($"The vocabulary '{vocabularyPath}' does not exist.", vocabularyPath);
        if (maxLength < 3) throw new ArgumentOutOfRangeException(nameof(maxLength), maxLength, "A row needs room for [CLS], one token and [SEP].");
        _tokenizer = BertTokenizer.Create(vocabularyPath, new BertOptions { LowerCaseBeforeTokenization = lowerCase });
        MaxLength = maxLength;
        PadToMaxLength = padToMaxLength;
    }

    /// <summary>Token ids of one sentence, [CLS] ... [SEP], at most <see cref="MaxLength"/> long.</summary>
    public int[] EncodeIds(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var ids = _tokenizer.EncodeToIds(text, MaxLength, addSpecialTokens: true, out _, out _);
        return ids.ToArray();
    }

    /// <summary>One sample of several rows: the three int64 tensors, padded with the vocabulary's [PAD] id.</summary>
    public Sample Encode(IReadOnlyList<string> texts, string? source = null)
    {
        ArgumentNullException.ThrowIfNull(texts);
        if (texts.Count == 0) throw new ArgumentException("No sentence to encode.", nameof(texts));
        var rows = new int[texts.Count][];
        int length = 0;
        for (int r = 0; r < rows.Length; r++)
        {
            rows[r] = EncodeIds(texts[r]);
            length = Math.Max(length, rows[r].Length);
        }
        if (PadToMaxLength) length = MaxLength;
        var ids = new long[rows.Length * length];
        var mask = new long[rows.Length * length];
        var types = new long[rows.Length * length];
        Array.Fill(ids, _tokenizer.PaddingTokenId);
        for (int r = 0; r < rows.Length; r++)
            for (int t = 0; t < rows[r].Length; t++)
            {
                ids[r * length + t] = rows[r][t];
                mask[r * length + t] = 1;
            }
        long[] shape = { rows.Length, length };
        source ??= $"{rows.Length} sentences";
        return new Sample(new[]
        {
            new NamedTensor(InputIdsName, ids, shape, source),
            new NamedTensor(AttentionMaskName, mask, shape, source),
            new NamedTensor(TokenTypeIdsName, types, shape, source),
        }, source);
    }

    /// <summary>Samples of at most <paramref name="batchSize"/> sentences each, streamed: only one batch's
    /// sentences and tensors are held at a time.</summary>
    public IEnumerable<Sample> EncodeBatches(IEnumerable<string> texts, int batchSize)
    {
        ArgumentNullException.ThrowIfNull(texts);
        if (batchSize < 1) throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, "A batch holds at least one sentence.");
        var batch = new List<string>(batchSize);
        int first = 0;
        foreach (var text in texts)
        {
            batch.Add(text);
            if (batch.Count == batchSize)
            {
                yield return Encode(batch, $"sentences {first}..{first + batch.Count - 1}");
                first += batch.Count;
                batch.Clear();
            }
        }
        if (batch.Count > 0) yield return Encode(batch, $"sentences {first}..{first + batch.Count - 1}");
    }
}
