//! Unit tests of the flags-to-options mapping.

use super::*;

fn config(args: &[&str], env: &[(&str, &str)]) -> Config {
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    config::parse(&args, &|k| {
        env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
    })
    .expect("config")
}

#[test]
fn flags_not_in_effect_are_named_once_each() {
    let c = config(
        &[
            "-imagor-unsafe",
            "-vips-cache-size",
            "10",
            "-http-loader-disable",
        ],
        &[("VIPS_MAX_CACHE_MEM", "100")],
    );
    let w = not_in_effect(&c);
    assert_eq!(w.len(), 2, "{w:?}");
    assert!(!w.iter().any(|m| m.contains("http-loader")));
    assert!(w.iter().any(|m| m.starts_with("-vips-cache-size ")));
    assert!(w.iter().any(|m| m.starts_with("-vips-max-cache-mem ")));
}

#[test]
fn size_limits_that_are_not_positive_keep_the_defaults() {
    let d = Options::default();
    for v in ["0", "-5"] {
        let o = options(&config(
            &[
                "-vips-max-width",
                v,
                "-vips-max-height",
                v,
                "-vips-max-resolution",
                v,
            ],
            &[],
        ));
        assert_eq!(
            (o.max_width, o.max_height, o.max_resolution),
            (d.max_width, d.max_height, d.max_resolution),
            "{v}"
        );
    }
    let o = options(&config(
        &["-vips-max-width", "5", "-vips-max-resolution", "7"],
        &[],
    ));
    assert_eq!((o.max_width, o.max_resolution), (5, 7));
}

#[test]
fn object_storage_flags_and_env_map_onto_options() {
    let c = config(
        &[
            "-s3-loader-bucket=b/dir",
            "-s3-force-path-style",
            "-aws-loader-region=eu",
            "-s3-result-storage-expiration=24h",
            "-gcloud-storage-acl=publicRead",
        ],
        &[
            ("AWS_SECRET_ACCESS_KEY", "sk"),
            ("S3_ENDPOINT", "http://minio:9000"),
        ],
    );
    let o = options(&c);
    assert_eq!(o.s3_loader_bucket, "b/dir");
    assert!(o.s3_force_path_style);
    assert_eq!(o.aws_loader_region, "eu");
    assert_eq!(o.aws_secret_access_key, "sk");
    assert_eq!(o.s3_endpoint, "http://minio:9000");
    assert_eq!(o.s3_result_storage_expiration, Duration::from_secs(86400));
    assert_eq!(o.gcloud_storage_acl, "publicRead");
    assert_eq!(o.s3_storage_class, "STANDARD");
    assert_eq!(o.s3_http_max_idle_conns_per_host, 100);
    assert!(
        !format!("{o:?}").contains("\"sk\""),
        "secrets are not shown"
    );
    assert!(not_in_effect(&c).iter().all(|w| !w.contains("-s3-")));
}

#[test]
fn http_loader_flags_are_in_effect() {
    let c = config(
        &[
            "-imagor-unsafe",
            "-http-loader-allowed-sources",
            "*.example.com, cdn.test",
            "-http-loader-block-loopback-networks=false",
            "-http-loader-block-networks=10.0.0.0/8,::1/128",
            "-http-loader-forward-all-headers",
            "-imagor-load-timeout=5s",
        ],
        &[("HTTP_LOADER_MAX_ALLOWED_SIZE", "1000")],
    );
    assert!(not_in_effect(&c).is_empty());
    let o = options(&c);
    assert_eq!(o.http_loader_allowed_sources, ["*.example.com", "cdn.test"]);
    assert!(!o.http_loader_block_loopback_networks);
    assert!(o.http_loader_block_private_networks);
    assert!(o.http_loader_block_link_local_networks);
    assert_eq!(o.http_loader_block_networks, ["10.0.0.0/8", "::1/128"]);
    assert!(o.http_loader_forward_all_headers);
    assert_eq!(o.http_loader_max_allowed_size, 1000);
    assert_eq!(o.load_timeout, Duration::from_secs(5));
    assert_eq!(o.request_timeout, Duration::from_secs(30));
    // Defaults: every class blocked, imagor's scheme and accept.
    let d = options(&config(&["-imagor-unsafe"], &[]));
    assert!(d.http_loader_block_loopback_networks && d.http_loader_block_private_networks);
    assert_eq!(d.http_loader_default_scheme, "https");
    assert_eq!(d.http_loader_accept, "*/*");
    assert_eq!(d.load_timeout, Duration::from_secs(20));
}

#[test]
fn the_memory_limits_are_flags_and_environment_variables() {
    let opts = |args: &[&str]| options(&config(args, &[]));
    let d = Options::default();
    let o = opts(&[]);
    assert_eq!(o.max_memory, 256 << 20);
    assert_eq!(o.max_total_memory, d.max_total_memory);
    assert!(o.max_total_memory > 0, "half the machine's memory");
    let o = opts(&["-imagor-max-memory", "1000", "-imagor-max-total-memory=0"]);
    assert_eq!((o.max_memory, o.max_total_memory), (1000, 0));
    let o = opts(&["-imagor-max-memory=-5", "-imagor-max-total-memory", "-1"]);
    assert_eq!(
        (o.max_memory, o.max_total_memory),
        (256 << 20, d.max_total_memory)
    );
    let env = config(
        &[],
        &[
            ("IMAGOR_MAX_MEMORY", "0"),
            ("IMAGOR_MAX_TOTAL_MEMORY", "1073741824"),
        ],
    );
    let o = options(&env);
    assert_eq!((o.max_memory, o.max_total_memory), (0, 1 << 30));
}

#[test]
fn detector_probe_size_is_in_effect() {
    let opts = |args: &[&str]| options(&config(args, &[]));
    assert_eq!(opts(&[]).detector_probe_size, 400);
    let set = config(&["-vips-detector-probe-size", "200"], &[]);
    assert_eq!(options(&set).detector_probe_size, 200);
    assert!(not_in_effect(&set).iter().all(|w| !w.contains("probe")));
    // imagor keeps its default for 0 or less.
    assert_eq!(
        opts(&["-vips-detector-probe-size", "0"]).detector_probe_size,
        400
    );
    let env = config(&[], &[("VIPS_DETECTOR_PROBE_SIZE", "123")]);
    assert_eq!(options(&env).detector_probe_size, 123);
}

#[test]
fn face_detector_flags() {
    let c = config(
        &[
            "-face-detector",
            "-face-detector-min-size",
            "30",
            "-face-detector-cache-size",
            "8",
        ],
        &[
            ("FACE_DETECTOR_MIN_QUALITY", "4.5"),
            ("FACE_DETECTOR_MAX_SIZE", "200"),
            ("FACE_DETECTOR_IOU_THRESHOLD", "0.5"),
            ("FACE_DETECTOR_CACHE_TTL", "1h"),
        ],
    );
    let o = options(&c);
    assert!(o.face_detector);
    assert_eq!(
        (o.face_detector_min_size, o.face_detector_cache_size),
        (30, 8)
    );
    assert_eq!(o.face_detector_min_quality, 4.5);
    assert_eq!(
        o.face_detector_cache_ttl,
        std::time::Duration::from_secs(3600)
    );
    let d = options(&config(&[], &[]));
    assert!(!d.face_detector && d.face_detector_min_size == 20);
    assert_eq!(
        (o.face_detector_max_size, o.face_detector_iou_threshold),
        (200, 0.5)
    );
    assert_eq!(
        (d.face_detector_max_size, d.face_detector_iou_threshold),
        (400, 0.2)
    );
    let w = not_in_effect(&config(&["-face-detector-iou-threshold", "0.3"], &[]));
    assert!(w.is_empty(), "{w:?}");
}
