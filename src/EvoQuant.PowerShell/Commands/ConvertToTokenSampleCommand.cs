using System.Management.Automation;
using EvoQuant.Data;
using EvoQuant.PowerShell.Infrastructure;
using EvoQuant.Text;

namespace EvoQuant.PowerShell.Commands;

/// <summary>ConvertTo-TokenSample: sentences from the pipeline to the token-id samples a BERT-family model
/// takes (input_ids, attention_mask, token_type_ids; int64 [rows, sequence]), -BatchSize sentences per
/// sample, ready for Measure-Calibration and Compare-QuantAccuracy. Streams: a sample is written as soon
/// as its batch is full, so only one batch of sentences is held.</summary>
[Cmdlet(VerbsData.ConvertTo, "TokenSample")]
[OutputType(typeof(Sample))]
public sealed class ConvertToTokenSampleCommand : EvoQuantCmdlet
{
    /// <summary>The sentences (one string per row).</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true)]
    [AllowEmptyString]
    public string[] InputObject { get; set; } = Array.Empty<string>();

    /// <summary>The model's WordPiece vocabulary (vocab.txt, one token per line).</summary>
    [Parameter(Mandatory = true)]
    [ValidateNotNullOrEmpty]
    public string Vocabulary { get; set; } = "";

    /// <summary>Longest row in tokens, [CLS] and [SEP] included; longer sentences are truncated.</summary>
    [Parameter]
    [ValidateRange(3, 1_000_000)]
    public int? MaxLength { get; set; }

    /// <summary>Sentences per sample.</summary>
    [Parameter]
    [ValidateRange(1, 65536)]
    public int? BatchSize { get; set; }

    /// <summary>Pad every sample to -MaxLength (fixed shapes) instead of to its longest sentence.</summary>
    [Parameter]
    public SwitchParameter PadToMaxLength { get; set; }

    /// <summary>Keep the case of the sentences (cased vocabularies); by default they are lower-cased, as uncased BERT models expect.</summary>
    [Parameter]
    public SwitchParameter CaseSensitive { get; set; }

    private BertTextEncoder? _encoder;
    private readonly List<string> _batch = new();
    private int _first;

    protected override void BeginProcessing()
    {
        string path = SessionState.Path.GetUnresolvedProviderPathFromPSPath(Vocabulary);
        try
        {
            _encoder = new BertTextEncoder(path, MaxLength ?? BertTextEncoder.DefaultMaxLength, PadToMaxLength, lowerCase: !CaseSensitive);
        }
        catch (FileNotFoundException e)
        {
            ThrowTerminatingError(NewError(e, "VocabularyNotFound", ErrorCategory.ObjectNotFound, path, "Give the vocab.txt that came with the model."));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or InvalidOperationException or FormatException)
        {
            ThrowTerminatingError(NewError(e, "InvalidVocabulary", ErrorCategory.InvalidData, path, "Give a WordPiece vocabulary: one token per line, with [CLS], [SEP], [PAD] and [UNK]."));
        }
    }

    protected override void ProcessRecord()
    {
        foreach (var sentence in InputObject)
        {
            _batch.Add(sentence ?? "");
            if (_batch.Count == (BatchSize ?? BertTextEncoder.DefaultBatchSize)) Flush();
        }
    }

    protected override void EndProcessing()
    {
        if (_batch.Count > 0) Flush();
    }

    private void Flush()
    {
        WriteObject(_encoder!.Encode(_batch, $"sentences {_first}..{_first + _batch.Count - 1}"));
        _first += _batch.Count;
        _batch.Clear();
    }
}
