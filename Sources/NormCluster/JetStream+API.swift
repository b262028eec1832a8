import NATS
import NormFormats

extension JetStream {
    /// A JetStream API request (`$JS.API.<operation>`) and its JSON reply. An API error is a
    /// reply with an "error" member, for the caller to read; a failed request or a reply that is
    /// not JSON throws.
    func request(_ operation: String, _ json: String) throws(ClusterError) -> JSONValue {
        let bytes: [UInt8]
        do {
            bytes = try api(operation, json)
        } catch {
            // No responders on $JS.API: the server runs without JetStream.
            let hint = error.isNoResponders ? " (is JetStream on? start nats-server with -js)" : ""
            throw ClusterError(.server, error.description + hint, context: "JetStream API \(operation)")
        }
        do {
            return try JSONParser.parse(bytes)
        } catch {
            throw ClusterError(.server, "the reply is not JSON: \(error)", context: "JetStream API \(operation)")
        }
    }
}
