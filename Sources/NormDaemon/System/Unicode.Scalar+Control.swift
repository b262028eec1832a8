extension Unicode.Scalar {
    /// C0, DEL and C1 (Unicode's general category Cc): what a terminal may act on. Keys come from
    /// producers, so wherever one is shown (the log, `normd top`) these are written escaped.
    var isControlCharacter: Bool { properties.generalCategory == .control }
}
