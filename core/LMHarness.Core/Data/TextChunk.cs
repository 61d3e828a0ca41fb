namespace LMHarness.Data;

/// <summary>
/// A piece of a document as a source streams it. Big documents come in several chunks (cut where every supported
/// tokenizer has a piece boundary, so chunking never changes the ids); an end-of-text token is written before each
/// chunk that <see cref="StartsDocument"/>, except the first of the file.
/// </summary>
/// <param name="Text">The text.</param>
/// <param name="StartsDocument">True for a document's first chunk.</param>
/// <param name="Folder">Metadata: the folder the document came from (relative to a directory source's root), or "".</param>
public sealed record TextChunk(string Text, bool StartsDocument, string Folder);
