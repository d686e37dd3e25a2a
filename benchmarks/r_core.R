# The core analyses of the ADVANCE sample in R, for benchmarks/bench_run_vs_r.py: recruitment and
# retention proportions, median attendance, the ANCOVA and the heteroscedastic nlme model.
# Run from the repository root: Rscript benchmarks/r_core.R
# attendance.csv is read with na.strings = "": an individual session has no group id, and without it the
# empty ids would become one cluster of every man with an individual session (issue 38).
suppressPackageStartupMessages(library(nlme))
d <- "data/sample/advance-feasibility"
scr <- read.csv(file.path(d, "screening.csv")); p <- read.csv(file.path(d, "participants.csv"))
a <- read.csv(file.path(d, "attendance.csv"), na.strings = ""); f <- read.csv(file.path(d, "followup.csv")); m <- read.csv(file.path(d, "measures.csv"))
el <- sum(scr$eligible == "true"); pt <- prop.test(nrow(p), el, correct = FALSE)
x <- as.numeric(difftime(as.Date(f$completed_on), as.Date(f$due_on), units = "weeks"))
ret <- f$timepoint == "week16" & f$status == "completed" & !is.na(x) & x >= -2 & x <= 8
rt <- prop.test(sum(ret), nrow(p), correct = FALSE)
att <- aggregate(attended ~ participant_id, data = transform(a, attended = attended == "true"), FUN = sum)
med <- median(att$attended)
phys <- c(2, 4, 7, 10, 13, 17, 21, 23, 25, 27, 28, 29, 30)
m$score <- rowMeans(m[, sprintf("abi_%02d", phys)], na.rm = TRUE)
w <- merge(merge(p, m[m$timepoint == "week16", c("participant_id", "score")]), setNames(m[m$timepoint == "baseline", c("participant_id", "score")], c("participant_id", "base")))
w$treat <- as.numeric(w$arm == "advance")
g <- aggregate(group_id ~ participant_id, data = a, FUN = function(z) sort(unique(z))[1])
w <- merge(w, g, all.x = TRUE); w$cluster <- ifelse(w$treat == 1, w$group_id, w$participant_id)
fit <- lm(score ~ treat + base + site, data = w)
h <- lme(score ~ treat + base + site, random = list(cluster = pdDiag(~ 0 + treat)), weights = varIdent(form = ~ 1 | arm), data = w)
print(c(pt$estimate, rt$estimate, med, coef(fit)[2], fixef(h)[2]))
