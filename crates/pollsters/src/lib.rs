//! Keystone client, central discoveries and pollsters.
//!
//! Knows nothing of Redis or AMQP: it turns OpenStack API answers into samples.
//! The pollsters themselves arrive with issue 6; the registry of names is here already so
//! `validate` can check `polling.yaml` meters against it.
#![forbid(unsafe_code)]

/// Entry-point names of the built-in central pollsters (Ceilometer 27.0.0, spec §3.2): what
/// `meters:` patterns in `polling.yaml` are matched against.
pub const CENTRAL_POLLSTERS: &[&str] = &[
    "alarm.evaluation_result",
    "dns.zone.recordsets",
    "dns.zone.serial",
    "dns.zone.status",
    "dns.zone.ttl",
    "image.size",
    "ip.floating",
    "loadbalancer.operating",
    "loadbalancer.provisioning",
    "manila.share.size",
    "manila.share.status",
    "network.services.firewall",
    "network.services.firewall.policy",
    "network.services.vpn",
    "network.services.vpn.connections",
    "radosgw.containers.objects",
    "radosgw.containers.objects.size",
    "radosgw.objects",
    "radosgw.objects.containers",
    "radosgw.objects.size",
    "radosgw.usage",
    "storage.containers.objects",
    "storage.containers.objects.size",
    "storage.objects",
    "storage.objects.containers",
    "storage.objects.size",
    "volume.backup.size",
    "volume.provider.pool.capacity.allocated",
    "volume.provider.pool.capacity.free",
    "volume.provider.pool.capacity.provisioned",
    "volume.provider.pool.capacity.total",
    "volume.provider.pool.capacity.virtual_free",
    "volume.service.health",
    "volume.size",
    "volume.snapshot.size",
];
