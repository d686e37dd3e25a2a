# The job `advance-trial run` does on the ADVANCE sample, as a trial statistician would script it in R
# (issue 38's peer): readr to read the canonical files; prop.test for recruitment, retention and dose with
# Wilson intervals; lm for the ANCOVAs and nlme::lme with varIdent for the partially nested models; four
# ggplot2 figures written as SVG and PNG; six flextable tables in one Word file (officer).
# Only for benchmarks/bench_run_vs_peer.py: R is never needed by the toolkit, its tests or CI.
# Run from the repository root: Rscript benchmarks/r_pipeline.R OUTDIR
suppressPackageStartupMessages({
  library(readr); library(nlme); library(ggplot2); library(flextable); library(officer)
})
args <- commandArgs(trailingOnly = TRUE)
out <- if (length(args)) args[1] else tempfile("r-pipeline")
dir.create(out, showWarnings = FALSE, recursive = TRUE)
d <- "data/sample/advance-feasibility"
rd <- function(f) suppressMessages(read_csv(file.path(d, f), na = "", show_col_types = FALSE, progress = FALSE))
scr <- rd("screening.csv"); p <- as.data.frame(rd("participants.csv")); a <- as.data.frame(rd("attendance.csv"))
f <- as.data.frame(rd("followup.csv")); m <- as.data.frame(rd("measures.csv"))
wilson <- function(x, n) { t <- prop.test(x, n, correct = FALSE); c(x = x, n = n, p = x / n, lo = t$conf.int[1], hi = t$conf.int[2]) }

# recruitment by site and overall
sites <- sort(unique(scr$site))
recruit <- do.call(rbind, lapply(c(sites, "all"), function(s) {
  k <- if (s == "all") rep(TRUE, nrow(scr)) else scr$site == s
  data.frame(site = s, t(wilson(sum(!is.na(scr$participant_id[k])), sum(scr$eligible[k]))))
}))
alloc <- as.data.frame(table(site = p$site, arm = p$arm))

# retention at 16 weeks within the window, by arm
wk <- f[f$timepoint == "week16", ]
late <- as.numeric(difftime(wk$completed_on, wk$due_on, units = "weeks"))
wk$retained <- wk$status == "completed" & !is.na(late) & late >= -2 & late <= 8
ret <- merge(p[, c("participant_id", "arm", "site")], wk[, c("participant_id", "retained")], all.x = TRUE)
ret$retained[is.na(ret$retained)] <- FALSE
retention <- do.call(rbind, lapply(c(sort(unique(ret$arm)), "all"), function(g) {
  k <- if (g == "all") rep(TRUE, nrow(ret)) else ret$arm == g
  data.frame(arm = g, t(wilson(sum(ret$retained[k]), sum(k))))
}))

# dose: compulsory sessions attended, and the half-of-compulsory threshold in the intervention arm
att <- aggregate(attended ~ participant_id, data = a, FUN = sum)
dosed <- merge(p[p$arm == "advance", c("participant_id", "cycle")], att, all.x = TRUE)
dosed$attended[is.na(dosed$attended)] <- 0
dose <- do.call(rbind, lapply(c(sort(unique(dosed$cycle)), "all"), function(cy) {
  k <- if (cy == "all") rep(TRUE, nrow(dosed)) else dosed$cycle == cy
  data.frame(cycle = cy, t(wilson(sum(dosed$attended[k] >= 7), sum(k))), median = median(dosed$attended[k]))
}))

# outcomes: the ABI subscales' mean item scores, ANCOVA and the heteroscedastic partially nested model
subs <- list(physical = c(2, 4, 7, 10, 13, 17, 21, 23, 25, 27, 28, 29, 30),
             psychological = c(1, 3, 5, 6, 8, 9, 11, 12, 14, 15, 16, 18, 19, 20, 22, 24, 26))
g <- aggregate(group_id ~ participant_id, data = a, FUN = function(z) sort(unique(z))[1])
outcomes <- do.call(rbind, lapply(names(subs), function(s) {
  m$score <- rowMeans(m[, sprintf("abi_%02d", subs[[s]])], na.rm = TRUE)
  w <- merge(merge(p, m[m$timepoint == "week16", c("participant_id", "score")]),
             setNames(m[m$timepoint == "baseline", c("participant_id", "score")], c("participant_id", "base")))
  w$treat <- as.numeric(w$arm == "advance")
  w <- merge(w, g, all.x = TRUE)
  w$cluster <- ifelse(w$treat == 1 & !is.na(w$group_id), w$group_id, w$participant_id)
  fit <- lm(score ~ treat + base + site, data = w)
  h <- lme(score ~ treat + base + site, random = list(cluster = pdDiag(~ 0 + treat)),
           weights = varIdent(form = ~ 1 | arm), data = w)
  ci <- confint(fit)["treat", ]; hi <- intervals(h, which = "fixed")$fixed["treat", ]
  rbind(data.frame(outcome = s, analysis = "ancova", estimate = coef(fit)[["treat"]], lo = ci[1], hi = ci[2], n = nobs(fit)),
        data.frame(outcome = s, analysis = "partially_nested", estimate = hi[["est."]], lo = hi[["lower"]],
                   hi = hi[["upper"]], n = nrow(w)))
}))
progression <- data.frame(criterion = c("recruitment", "follow_up"),
                          estimate = c(recruit$p[recruit$site == "all"], retention$p[retention$arm == "all"]),
                          lo = c(recruit$lo[recruit$site == "all"], retention$lo[retention$arm == "all"]),
                          go = c(0.6, 0.7))
progression$status <- ifelse(progression$estimate >= progression$go, "met", "not met")
for (t in c("recruit", "alloc", "retention", "dose", "outcomes", "progression"))
  write.csv(get(t), file.path(out, paste0(t, ".csv")), row.names = FALSE)

# four figures, each as SVG and PNG
save2 <- function(plot, name, w = 7, h = 4) {
  ggsave(file.path(out, paste0(name, ".svg")), plot, width = w, height = h)
  ggsave(file.path(out, paste0(name, ".png")), plot, width = w, height = h, dpi = 150)
}
save2(ggplot(dosed, aes(attended)) + geom_histogram(binwidth = 1) + labs(x = "Sessions attended", y = "Men"), "attendance")
save2(ggplot(retention, aes(arm, p, ymin = lo, ymax = hi)) + geom_pointrange() + geom_hline(yintercept = 0.7, linetype = 2) +
        labs(x = NULL, y = "Followed up at 16 weeks"), "retention")
save2(ggplot(outcomes, aes(estimate, interaction(outcome, analysis), xmin = lo, xmax = hi)) + geom_pointrange() +
        geom_vline(xintercept = 0, linetype = 2) + labs(x = "Mean difference", y = NULL), "forest")
acc <- p[order(p$randomised_on), ]; acc$n <- seq_len(nrow(acc))
save2(ggplot(acc, aes(randomised_on, n)) + geom_step() + geom_hline(yintercept = 104, linetype = 2) +
        labs(x = "Date randomised", y = "Men randomised"), "accrual")

# six tables in one Word file
doc <- read_docx()
for (t in c("recruit", "alloc", "retention", "dose", "outcomes", "progression")) {
  doc <- body_add_par(doc, t, style = "heading 1")
  doc <- body_add_flextable(doc, autofit(colformat_double(flextable(get(t)), digits = 3)))
}
invisible(print(doc, target = file.path(out, "report.docx")))
