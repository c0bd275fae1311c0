/* An alarm's verdict over its evaluation periods, as CloudWatch decides it (pure, so
 * that a unit test can hold it to doc/cloudwatch.md). */
#ifndef GD_SERVER_ALARMS_H
#define GD_SERVER_ALARMS_H

typedef enum gd_alarm_state {
    GD_ALARM_INSUFFICIENT_DATA,
    GD_ALARM_OK,
    GD_ALARM_ALARM,
} gd_alarm_state;

typedef struct gd_alarm_input {
    const double *values;    /* one per period, oldest first; NAN: no datapoint */
    int evaluation_periods;  /* N: how many values */
    int datapoints_to_alarm; /* M (0: N) */
    double threshold;
    const char *comparison;         /* GreaterThanThreshold, ... */
    const char *treat_missing_data; /* missing, notBreaching, breaching, ignore */
    gd_alarm_state current;
} gd_alarm_input;

typedef struct gd_alarm_verdict {
    gd_alarm_state state;
    int present, breaching; /* datapoints counted (missing ones treated included) */
    double last;            /* the newest real datapoint, NAN if none */
} gd_alarm_verdict;

/** ALARM when at least M of the N values breach, OK when fewer do, and with no value
 *  at all INSUFFICIENT_DATA (missing) or the current state (ignore); breaching and
 *  notBreaching count a missing value as that. Returns 0. */
int gd_alarm_evaluate(const gd_alarm_input *in, gd_alarm_verdict *out);
const char *gd_alarm_state_name(gd_alarm_state s);
/** "OK", "ALARM"; anything else is INSUFFICIENT_DATA. */
gd_alarm_state gd_alarm_state_of(const char *name);

#endif
