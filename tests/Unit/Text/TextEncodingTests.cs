using EvoQuant.Tests.Support;
using EvoQuant.Text;
using Xunit;

namespace EvoQuant.Tests.Text;

[Trait("Category", "TestData")]
public class TextEncodingTests
{
    [Fact]
    public void Corpus_OfDebianFortunes_HoldsThousandsOfDistinctSentences_AndSplitsDisjointly()
    {
        var corpus = SentenceCorpus.Load(TestData.Require(TestData.Fortunes));
        Assert.True(corpus.Sentences.Count >= 5000, $"{corpus.Sentences.Count} sentences");
        Assert.Equal(corpus.Sentences.Count, corpus.Sentences.Distinct().Count());
        Assert.All(corpus.Sentences, s => Assert.DoesNotContain("\n", s));

        var parts = corpus.Split(7, 100, 2000, 500);
        Assert.Equal(new[] { 100, 2000, 500 }, parts.Select(p => p.Count));
        Assert.Empty(parts[0].Intersect(parts[1]));
        Assert.Empty(parts[1].Intersect(parts[2]));
        Assert.Equal(parts[1], corpus.Split(7, 100, 2000, 500)[1]);      // reproducible
        Assert.NotEqual(parts[1], corpus.Split(8, 100, 2000, 500)[1]);
    }

    [Fact]
    public void Encoder_WithMiniLmVocabulary_GivesBertUncasedIds_PadsAndMasks()
    {
        var encoder = new BertTextEncoder(TestData.Require(TestData.MiniLmVocab), maxLength: 8);
        // bert-base-uncased's vocabulary: [CLS]=101, hello=7592, world=2088, [SEP]=102; lower-cased first.
        Assert.Equal(new[] { 101, 7592, 2088, 102 }, encoder.EncodeIds("Hello World"));
        Assert.Equal(8, encoder.EncodeIds("one two three four five six seven eight nine ten").Length);

        var sample = encoder.Encode(new[] { "Hello World", "hello" });
        var ids = sample[BertTextEncoder.InputIdsName]!;
        var mask = sample[BertTextEncoder.AttentionMaskName]!;
        Assert.Equal(new long[] { 2, 4 }, ids.GetShape());
        Assert.Equal(new long[] { 101, 7592, 2088, 102, 101, 7592, 102, 0 }, (long[])ids.Data);
        Assert.Equal(new long[] { 1, 1, 1, 1, 1, 1, 1, 0 }, (long[])mask.Data);
        Assert.All((long[])sample[BertTextEncoder.TokenTypeIdsName]!.Data, v => Assert.Equal(0, v));

        var fixedLength = new BertTextEncoder(TestData.MiniLmVocab, maxLength: 8, padToMaxLength: true);
        Assert.Equal(new long[] { 1, 8 }, fixedLength.Encode(new[] { "hello" })[BertTextEncoder.InputIdsName]!.GetShape());
        Assert.Equal(new[] { 3, 3, 1 }, fixedLength.EncodeBatches(Enumerable.Repeat("hi", 7), 3).Select(s => (int)s.Tensors[0].Rows));
    }
}
