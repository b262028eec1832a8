/// What `normd --version` prints and `normd_build_info` exports.
public enum BuildInfo {
    public static let version = "0.3.0"
}
