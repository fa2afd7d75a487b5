//! The closed registry of built-in central pollsters: name (what `polling.yaml` meters
//! match), default discovery, and how samples are produced. Adding a pollster = one line
//! here + a function in its service file. `CENTRAL_POLLSTERS` is generated from this list.

use sample::Sample;

use crate::cinder::Capacity;
use crate::designate::ZoneMeter;
use crate::discovery::{Kind, Resource};
use crate::meter::SampleCtx;
use crate::rgw::RgwMeter;
use crate::swift::SwiftMeter;

macro_rules! registry {
    ($( $var:ident => $name:literal, $disc:literal; )*) => {
        /// A built-in central pollster.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Pollster { $( #[doc = $name] $var, )* }

        impl Pollster {
            /// Every pollster, sorted by name.
            pub const ALL: &'static [Pollster] = &[$(Pollster::$var,)*];
            /// Every name, sorted, in the same order as [`Pollster::ALL`].
            pub const NAMES: &'static [&'static str] = &[$($name,)*];

            /// Entry-point name (matched by `meters:` patterns).
            pub fn name(self) -> &'static str {
                match self { $(Pollster::$var => $name,)* }
            }

            /// Discovery used when a source names neither `resources:` nor `discovery:`.
            pub fn default_discovery(self) -> &'static str {
                match self { $(Pollster::$var => $disc,)* }
            }
        }
    };
}

registry! {
    AlarmEvaluationResult => "alarm.evaluation_result", "alarm";
    DnsZoneRecordsets => "dns.zone.recordsets", "dns_zones";
    DnsZoneSerial => "dns.zone.serial", "dns_zones";
    DnsZoneStatus => "dns.zone.status", "dns_zones";
    DnsZoneTtl => "dns.zone.ttl", "dns_zones";
    ImageSize => "image.size", "images";
    IpFloating => "ip.floating", "fip_services";
    LoadbalancerOperating => "loadbalancer.operating", "lb_services";
    LoadbalancerProvisioning => "loadbalancer.provisioning", "lb_services";
    ManilaShareSize => "manila.share.size", "manila_shares";
    ManilaShareStatus => "manila.share.status", "manila_shares";
    Firewall => "network.services.firewall", "fw_services";
    FirewallPolicy => "network.services.firewall.policy", "fw_policy";
    Vpn => "network.services.vpn", "vpn_services";
    VpnConnections => "network.services.vpn.connections", "ipsec_connections";
    RgwContainersObjects => "radosgw.containers.objects", "tenant";
    RgwContainersObjectsSize => "radosgw.containers.objects.size", "tenant";
    RgwObjects => "radosgw.objects", "tenant";
    RgwObjectsContainers => "radosgw.objects.containers", "tenant";
    RgwObjectsSize => "radosgw.objects.size", "tenant";
    RgwUsage => "radosgw.usage", "tenant";
    StorageContainersObjects => "storage.containers.objects", "tenant";
    StorageContainersObjectsSize => "storage.containers.objects.size", "tenant";
    StorageObjects => "storage.objects", "tenant";
    StorageObjectsContainers => "storage.objects.containers", "tenant";
    StorageObjectsSize => "storage.objects.size", "tenant";
    VolumeBackupSize => "volume.backup.size", "volume_backups";
    PoolAllocated => "volume.provider.pool.capacity.allocated", "volume_pools";
    PoolFree => "volume.provider.pool.capacity.free", "volume_pools";
    PoolProvisioned => "volume.provider.pool.capacity.provisioned", "volume_pools";
    PoolTotal => "volume.provider.pool.capacity.total", "volume_pools";
    PoolVirtualFree => "volume.provider.pool.capacity.virtual_free", "volume_pools";
    VolumeServiceHealth => "volume.service.health", "volume_services";
    VolumeSize => "volume.size", "volumes";
    VolumeSnapshotSize => "volume.snapshot.size", "volume_snapshots";
}

/// Builds samples of one listed resource.
pub(crate) type ListingFn = fn(&SampleCtx, &mut Resource) -> Result<Vec<Sample>, String>;

/// A pollster that needs one (or more) API calls per resource.
#[derive(Debug, Clone, Copy)]
pub(crate) enum PerResource {
    Swift(SwiftMeter),
    Rgw(RgwMeter),
    DnsRecordsets,
}

/// How a pollster produces samples.
pub(crate) enum Mode {
    /// From the discovered attributes alone; the resource must be of this kind.
    Listing(Kind, ListingFn),
    /// With calls per resource (tenant-based: projects or static tenant ids).
    PerResource(PerResource),
}

impl Pollster {
    pub(crate) fn mode(self) -> Mode {
        use Mode::{Listing, PerResource as P};
        use PerResource as R;
        match self {
            Pollster::AlarmEvaluationResult => {
                Listing(Kind::AlarmResult, crate::aodh::evaluation_result)
            }
            Pollster::DnsZoneRecordsets => P(R::DnsRecordsets),
            Pollster::DnsZoneSerial => Listing(Kind::Zone, |c, r| {
                crate::designate::zone(c, r, ZoneMeter::Serial)
            }),
            Pollster::DnsZoneStatus => Listing(Kind::Zone, |c, r| {
                crate::designate::zone(c, r, ZoneMeter::Status)
            }),
            Pollster::DnsZoneTtl => Listing(Kind::Zone, |c, r| {
                crate::designate::zone(c, r, ZoneMeter::Ttl)
            }),
            Pollster::ImageSize => Listing(Kind::Image, crate::glance::image_size),
            Pollster::IpFloating => Listing(Kind::FloatingIp, crate::neutron::floating_ip),
            Pollster::LoadbalancerOperating => Listing(Kind::LoadBalancer, |c, r| {
                crate::octavia::loadbalancer(c, r, true)
            }),
            Pollster::LoadbalancerProvisioning => Listing(Kind::LoadBalancer, |c, r| {
                crate::octavia::loadbalancer(c, r, false)
            }),
            Pollster::ManilaShareSize => {
                Listing(Kind::Share, |c, r| crate::manila::share(c, r, false))
            }
            Pollster::ManilaShareStatus => {
                Listing(Kind::Share, |c, r| crate::manila::share(c, r, true))
            }
            Pollster::Firewall => Listing(Kind::Firewall, crate::neutron::firewall),
            Pollster::FirewallPolicy => {
                Listing(Kind::FirewallPolicy, crate::neutron::firewall_policy)
            }
            Pollster::Vpn => Listing(Kind::VpnService, crate::neutron::vpn),
            Pollster::VpnConnections => {
                Listing(Kind::IpsecConnection, crate::neutron::vpn_connection)
            }
            Pollster::RgwContainersObjects => P(R::Rgw(RgwMeter::ContainersObjects)),
            Pollster::RgwContainersObjectsSize => P(R::Rgw(RgwMeter::ContainersObjectsSize)),
            Pollster::RgwObjects => P(R::Rgw(RgwMeter::Objects)),
            Pollster::RgwObjectsContainers => P(R::Rgw(RgwMeter::ObjectsContainers)),
            Pollster::RgwObjectsSize => P(R::Rgw(RgwMeter::ObjectsSize)),
            Pollster::RgwUsage => P(R::Rgw(RgwMeter::Usage)),
            Pollster::StorageContainersObjects => P(R::Swift(SwiftMeter::ContainersObjects)),
            Pollster::StorageContainersObjectsSize => {
                P(R::Swift(SwiftMeter::ContainersObjectsSize))
            }
            Pollster::StorageObjects => P(R::Swift(SwiftMeter::Objects)),
            Pollster::StorageObjectsContainers => P(R::Swift(SwiftMeter::ObjectsContainers)),
            Pollster::StorageObjectsSize => P(R::Swift(SwiftMeter::ObjectsSize)),
            Pollster::VolumeBackupSize => Listing(Kind::Backup, crate::cinder::backup_size),
            Pollster::PoolAllocated => Listing(Kind::Pool, |c, r| {
                crate::cinder::pool_capacity(c, r, Capacity::Allocated)
            }),
            Pollster::PoolFree => Listing(Kind::Pool, |c, r| {
                crate::cinder::pool_capacity(c, r, Capacity::Free)
            }),
            Pollster::PoolProvisioned => Listing(Kind::Pool, |c, r| {
                crate::cinder::pool_capacity(c, r, Capacity::Provisioned)
            }),
            Pollster::PoolTotal => Listing(Kind::Pool, |c, r| {
                crate::cinder::pool_capacity(c, r, Capacity::Total)
            }),
            Pollster::PoolVirtualFree => Listing(Kind::Pool, |c, r| {
                crate::cinder::pool_capacity(c, r, Capacity::VirtualFree)
            }),
            Pollster::VolumeServiceHealth => {
                Listing(Kind::VolumeService, crate::cinder::service_health)
            }
            Pollster::VolumeSize => Listing(Kind::Volume, crate::cinder::volume_size),
            Pollster::VolumeSnapshotSize => Listing(Kind::Snapshot, crate::cinder::snapshot_size),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_sorted_unique_and_discoveries_known() {
        let mut sorted = Pollster::NAMES.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted, Pollster::NAMES);
        for p in Pollster::ALL {
            assert!(crate::discovery::DISCOVERY_NAMES.contains(&p.default_discovery()));
        }
        assert_eq!(Pollster::ALL.len(), 35);
    }
}
