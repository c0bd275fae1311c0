/* What the launcher's files (launcher.c, proc.c, netalloc.c, instances.c,
 * autoscaler.c, edgepush.c) and the operations layer share. Private to src/server. */
#ifndef GD_SERVER_LAUNCHER_INT_H
#define GD_SERVER_LAUNCHER_INT_H

#include "core/addr.h"
#include "core/buf.h"
#include "server/game_int.h"

#include <jansson.h>

/* ---- launcher.c ---- */
/** Merges fields (taken) into a resource's status. Status is what the game observes
 *  (state, address, pid); only the launcher writes it, and specs only ops.c. */
void gd_launcher_set_status(gd_game *g, const char *id, json_t *fields);
/** Appends {time, description, cause} to an asg's status.activities, the newest
 *  GD_ASG_ACTIVITIES kept (autoscaler.c). */
void gd_asg_activity(gd_game *g, const char *asg_id, const char *description, const char *cause);
#define GD_ASG_ACTIVITIES 50
/** Every live resource of a team (0: all teams) whose type has every flag in flags. */
json_t *gd_launcher_list_flagged(gd_game *g, int team, unsigned flags);

/* ---- proc.c ---- */
/** Starts a child with args (args[0] a path), the server's environment plus
 *  extra_env (which wins), its output appended to DIR/logs/LOGNAME.log. */
gd_proc *gd_proc_spawn(gd_game *g, enum gd_proc_kind kind, int team, const char *res_id,
                       char **args, char **extra_env, const char *logname);
/** gd_proc_spawn as user uid:gid (uid -1: the server's) in folder cwd (NULL: the
 *  server's). */
gd_proc *gd_proc_spawn_as(gd_game *g, enum gd_proc_kind kind, int team, const char *res_id,
                          char **args, char **extra_env, const char *logname, int uid, int gid,
                          const char *cwd);
/** 1 if process pid is alive and its command line holds want. */
int gd_proc_alive_with(int pid, const char *want);
/** Watches pid, alive from an earlier server life, as the child of res id. */
void gd_proc_adopt(gd_game *g, enum gd_proc_kind kind, int team, const char *id, int pid);
/** The child of a resource (res_id), or of a team when res_id is NULL. */
gd_proc *gd_proc_find(gd_game *g, const char *res_id, enum gd_proc_kind kind, int team);
/** Signals a child we want gone: its exit is recorded with `reason`, not as a crash. */
void gd_proc_stop(gd_proc *p, int sig, const char *reason);
/** GAMEDAY_SPEED=... and GAMEDAY_EPOCH_NS=...: a child's game clock. */
void gd_proc_clock_env(char *speed, char *epoch, size_t n);

/* ---- netalloc.c ---- */
/** A team's subnet by name, its CIDR in c (and the resource in *out when out). */
int gd_net_subnet_of(gd_game *g, int team, const char *name, gd_cidr *c, json_t **out);
/** The first free usable address of a subnet; GD_EFULL with a message when none. */
int gd_net_alloc_ip(gd_game *g, int team, const char *subnet, uint32_t *ip, char *err, size_t n);
/* The address ip (dotted) stays taken until the process key of kind has exited: a
 * deleted node's server that is still stopping (netalloc.c). */
void gd_net_hold_ip(const char *ip, const char *key, enum gd_proc_kind kind);
/** A free edge-location address for a team's cdn (127.X.250.4+). */
int gd_net_alloc_cdn_ip(gd_game *g, int team, uint32_t *ip);

/* ---- instances.c ---- */
/** Creates an instance resource (pending; it boots after its launch template's boot
 *  time), of type itype, or the template's when NULL. GD_EFULL with a message when its
 *  subnet has no free address. Audited (RunInstances). Called by ops.c only. */
int gd_launcher_run_instance(gd_game *g, int team, const char *name, const char *lt_name,
                             const char *itype, const char *subnet, const char *asg, int flags,
                             const char *principal, const char *source_ip, char id_out[40],
                             char *err, size_t errlen);
#define GD_LAUNCH_BOOTED 1    /* running at once (the starting architecture) */
#define GD_LAUNCH_PROTECTED 2 /* protected_from_scale_in */
#define GD_LAUNCH_SPOT 4      /* market spot, whatever the template says */
#define GD_LAUNCH_ON_DEMAND 8 /* market on-demand, whatever the template says */
/** Terminates an instance: its process is stopped (SIGKILL when hard), its status
 *  becomes terminated, the edges stop sending to it. Audited (TerminateInstances).
 *  Called by ops.c only. */
/** StopInstances: a pending or running instance that belongs to no group stops (its
 *  process ends, billing stops, it keeps its address); GD_ENOENT, GD_EINVAL (a group's
 *  member: UnsupportedOperation) or GD_EEXIST (IncorrectInstanceState) with a message.
 *  StartInstances: a stopped one boots again as its spec's instance_type. Audited.
 *  Called by ops.c only. */
int gd_launcher_stop(gd_game *g, int team, const char *id, const char *principal,
                     const char *source_ip, char *err, size_t errlen);
int gd_launcher_start(gd_game *g, int team, const char *id, const char *principal,
                      const char *source_ip, char *err, size_t errlen);
int gd_launcher_terminate(gd_game *g, int team, const char *id, int hard, const char *principal,
                          const char *source_ip, const char *reason);
/** Starts a pending instance's process; it is running, or terminated if it failed. */
void gd_instance_boot(gd_game *g, json_t *inst);
/** 1 when a scale-in has deregistered the instance and it waits to be drained. */
int gd_instance_leaving(json_t *inst);

/* ---- autoscaler.c ---- */
/** 1 when every edge has taken a document without target id and its stats, read
 *  since, list it nowhere: deregistered and drained of its requests in flight. */
int gd_target_drained(gd_game *g, const char *id);
/** One group toward its desired count; instances is every instance in the store. */
void gd_autoscaler_reconcile(gd_game *g, json_t *asg, json_t *instances);
/** The fleet's own metrics, every GD_METRIC_SAMPLE_MS: CPUUtilization of each running
 *  instance and of each group (AWS/EC2), GroupDesiredCapacity, GroupInServiceInstances. */
void gd_fleet_metrics(gd_game *g, json_t *asgs, json_t *instances, double now);

/* ---- edgepush.c ---- */
/** The link to a load balancer's edge, or NULL. */
gd_edge_link *gd_edge_link_find(gd_game *g, const char *res_id);
/** A load balancer or cdn: its address, its process, its configuration, its stats. */
void gd_edgepush_reconcile(gd_game *g, json_t *lb, json_t *instances, json_t *asgs, json_t *tgs);
/** A target group's status from the edges that use it. */
void gd_edgepush_tg_status(gd_game *g, json_t *tg, json_t *lbs, json_t *instances, json_t *asgs);
/** Stops the edges of load balancers no longer in `edges` and forgets their links. */
void gd_edgepush_forget(gd_game *g, json_t *edges);

/* ---- links.c: the daemons' documents (edges, dns, nat) ---- */
/** The link in *slot, made on first use (name: its log, its process's res_id). */
gd_edge_link *gd_link_get(gd_game *g, gd_edge_link **slot, const char *name, uint32_t ip,
                          int admin_port);
/** Starts its process (args[0] the binary) unless it runs; its pid goes to kv pid_key. */
/** A new link to the daemon of resource id (admin port at ip), put first in *list. */
gd_edge_link *gd_link_add(gd_game *g, gd_edge_link **list, const char *id, uint32_t ip,
                          int admin_port);
/** The links of *list whose resource is not in live go: their daemon (of kind) is
 *  stopped with reason, the link freed. */
void gd_link_forget(gd_game *g, gd_edge_link **list, const json_t *live, enum gd_proc_kind kind,
                    const char *reason);
/** Asks the daemon for its /stats (cb gets the answer) once a metric sample, unless a
 *  request is already on its way. */
void gd_link_poll_stats(gd_game *g, gd_edge_link *e, gd_httpc_cb cb);
void gd_link_spawn(gd_game *g, gd_edge_link *e, enum gd_proc_kind kind, char **args,
                   const char *pid_key);
/** Pushes doc (taken) when it differs from what the daemon holds and was not refused. */
void gd_link_push(gd_game *g, gd_edge_link *e, json_t *doc);

/* ---- instances.c: availability zones ---- */
/** The game time until which availability zone az is down (an az_outage event), or 0
 *  when it is up. */
double gd_az_down_until(gd_game *g, const char *az);
/** 1 while some zone is down (no store access: a load balancer asks every pass). */
int gd_az_any_down(gd_game *g);
/** Zone az ("a".."f") is down until game time until (the store keeps it). */
void gd_az_set_down(gd_game *g, const char *az, double until);

/* ---- sgs.c: security groups ---- */
/** The blocks (one a line) that security groups `groups` of team let reach `port`. */
void gd_sg_allow(gd_game *g, int team, const json_t *groups, int port, gd_buf *out);
/** Every live instance's allow list file and fault file (written before it boots: this
 *  reconciler runs before the instances'), and a SIGHUP to the built-in services whose
 *  list or faults changed. */
void gd_sgs_reconcile(gd_game *g, json_t *instances);

/* ---- cache_cluster.c (its contract: server/cache_cluster.h) ---- */
/** Cache clusters: addresses, redis-server nodes, checks, failover, the nat's mappings. */
void gd_cache_reconcile(gd_game *g, json_t *clusters);

/* ---- eips.c ---- */
/** Elastic IPs: their addresses, and the nat's mappings to their instances. */
void gd_eips_reconcile(gd_game *g, json_t *eips, json_t *instances);

/* ---- dnspush.c ---- */
/** The DNS server's address ("127.N.255.53:53"; port 5353 when the server may not bind
 *  ports under 1024) and a team's hosted zone ("team<T>.gameday.test"). */
void gd_dns_addr(gd_game *g, char *out, size_t n);
void gd_dns_zone(int team, char *out, size_t n);
/** Runs the DNS server and pushes the zones built from every dns_record. */
void gd_dnspush_reconcile(gd_game *g, json_t *records);

/* ---- db.c: the managed databases ---- */
/** Every db: its nodes' addresses, data and postgres processes, their configuration
 *  (pg_hba.conf from the security groups), replication, failover, metrics. */
void gd_db_reconcile(gd_game *g, json_t *dbs);
/** A db process (postgres, or a task making a node's data) ended. */
void gd_db_proc_exited(gd_game *g, gd_proc *p, int64_t status, int sig);
/** After a server restart: watches the postgres processes still alive. */
void gd_db_adopt(gd_game *g);
/** The zone records of team's dbs: "<db>.db" (the primary) and "<db>-ro.db" (the
 *  replicas), appended to recs. */
void gd_db_dns_records(gd_game *g, int team, json_t *recs);
/** The db node addresses of a team in use (for the address allocator): 1 if ip is one. */
int gd_db_ip_in_use(gd_game *g, int team, uint32_t ip);
/** FailoverDBCluster and RebootDBInstance on a team's db (by id or name), audited; 0 or
 *  GD_ENOENT / GD_EINVAL / GD_EEXIST with a message. */
int gd_db_failover(gd_game *g, int team, const char *id, const char *principal,
                   const char *source_ip, const char *cause, char *err, size_t errlen);
int gd_db_reboot(gd_game *g, int team, const char *id, const char *principal, const char *source_ip,
                 char *err, size_t errlen);

/* ---- alarms.c ---- */
/** Evaluates every alarm whose period has ended since its last evaluation. */
void gd_alarms_reconcile(gd_game *g, json_t *alarms, double now);

/* ---- schedules.c ---- */
/** Runs the scheduled actions that are due (once, or on their recurrence). */
void gd_schedules_reconcile(gd_game *g, json_t *actions, double now);

/* ---- spot.c ---- */
/** Spot interruptions at the scenario's seeded times: spot.notice before each, every
 *  team's oldest running spot instance gets its notice (status.interruption_at, an
 *  event, an audit record); at that time it is terminated by "ec2-spot". */
void gd_spot_reconcile(gd_game *g, json_t *instances, double now);

/* ---- policies.c ---- */
/** Runs a simple or step scaling policy for an alarm in ALARM (value: the alarm's last
 *  datapoint): a SetDesiredCapacity through the operations layer, unless in cooldown. */
void gd_policy_execute(gd_game *g, int team, const char *policy, const char *alarm, double value,
                       double threshold);
/** Target tracking: every group's TargetTrackingScaling policies, once per minute. */
void gd_policies_track(gd_game *g, json_t *policies, double now);

#endif
