extension UnsafeRawBufferPointer {
    /// Whether these bytes are `text`'s UTF-8, compared as two byte buffers: comparing with a
    /// `String.UTF8View` walked the string's view element by element (2.8 % of the pipeline
    /// thread at 64 B batches, for a handful of short keys per message).
    func holds(_ text: StaticString) -> Bool {
        count == text.utf8CodeUnitCount && elementsEqual(UnsafeRawBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }
}
